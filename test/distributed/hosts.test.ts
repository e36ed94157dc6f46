import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, startF, until, type FlowProcess } from '../support/flow-process.js';
import { runF } from '../support/run-f.js';
import { cleanupPrefix, serviceUrls, uniquePrefix } from '../support/services.js';
import { tempDir } from '../support/tmp.js';

const urls = await serviceUrls();
const TOOL = join(process.cwd(), 'test/fixtures/tools/echo-sh');

interface InstallView {
  id: string;
  host: string;
  status: string;
  epoch: string | null;
}
interface BackendView {
  name: string;
  status: string;
  host: string;
  retired: { reason: string; message: string } | null;
}
interface HostView {
  id: string;
  epoch: string | null;
  connected: boolean | null;
  actors: number;
  retired: number;
}
interface ErrorBody {
  error: { code: string; message: string };
}

/**
 * Issue 11, item 6, with real processes: two `f host` with their own FLOW_HOME and host id, one
 * `f gateway`, the running Redis and NATS under a prefix of this file's own.
 */
describe.skipIf(!urls)('a gateway over two hosts that share tool ids and backend names, and a host whose FLOW_HOME is wiped', () => {
  const prefix = uniquePrefix('hosts');
  const cleanups: (() => void)[] = [];
  const procs = new Set<FlowProcess>();
  let env: Record<string, string>;
  let homes: Record<'alpha' | 'beta' | 'gateway', string>;
  let gateway: FlowProcess;
  let alpha: FlowProcess;
  let beta: FlowProcess;

  const home = () => {
    const t = tempDir('flow-hosts-');
    cleanups.push(t.cleanup);
    return t.dir;
  };
  const startHost = async (id: 'alpha' | 'beta') => {
    const p = await startF(['host', '--id', id], homes[id], env, new RegExp(`Flow host (${id}) is up`));
    procs.add(p);
    return p;
  };
  const stop = async (p: FlowProcess) => {
    p.proc.kill('SIGTERM');
    await p.exited;
    procs.delete(p);
  };
  /** The `f` CLI against the gateway. */
  const f = (args: string[], extra: Record<string, string> = {}) => runF(args, { ...env, FLOW_HOME: homes.gateway, FLOW_URL: gateway.url, ...extra });

  beforeAll(async () => {
    env = { FLOW_NATS_URL: urls!.natsUrl, FLOW_REDIS_URL: urls!.redisUrl, FLOW_NATS_PREFIX: prefix };
    homes = { alpha: home(), beta: home(), gateway: home() };
    [alpha, beta] = await Promise.all([startHost('alpha'), startHost('beta')]);
    gateway = await startF(['gateway', '--port', '0'], homes.gateway, env, /Flow gateway is up at (\S+)/);
    procs.add(gateway);
  }, 60_000);

  afterAll(async () => {
    for (const p of [...procs]) await stop(p);
    for (const c of cleanups) c();
    await cleanupPrefix(urls!, prefix);
  }, 60_000);

  it('given both hosts install the same tool (f install ./echo-sh), the gateway shows both installs, each with its host', async () => {
    // On beta without FLOW_HOST_ID (unset, whatever this shell has): the install is still beta's,
    // the host id that runs that FLOW_HOME.
    const unset = { FLOW_HOST_ID: undefined } as unknown as Record<string, string>;
    const runs: Record<string, string>[] = [{ FLOW_HOME: homes.alpha, FLOW_HOST_ID: 'alpha' }, { FLOW_HOME: homes.beta, ...unset }];
    for (const run of runs) {
      const r = await runF(['install', TOOL], { ...run, FLOW_CLI_DEV_ROOTS: '' });
      expect(r.code, r.stderr).toBe(0);
    }

    // Each host's 4 events (requested, manifest, registration requested, registered) reach the gateway's replica.
    const actors = await until(async () => {
      const { body } = await json<{ actors: { streamId: string; host: string; status: string; version: number }[] }>(`${gateway.url}/api/actors?streamType=tool-install`);
      const installed = body.actors.filter((a) => a.status === 'installed');
      return installed.length === 2 ? installed : null;
    }, 'both hosts\' installs of echo-sh at the gateway', 15_000);
    expect(actors.map((a) => [a.streamId, a.host, a.version]).sort()).toEqual([
      ['tool-install:echo-sh_alpha', 'alpha', 4],
      ['tool-install:echo-sh_beta', 'beta', 4],
    ]);
    const { body } = await json<{ installs: InstallView[] }>(`${gateway.url}/api/installs`);
    expect(body.installs.filter((i) => i.id === 'echo-sh').map((i) => [i.host, i.status]).sort()).toEqual([
      ['alpha', 'installed'],
      ['beta', 'installed'],
    ]);
  });

  it('given alpha restarts with a wiped FLOW_HOME, its old backends are shown retired; f backend rm and f backend add work on their names again', async () => {
    const command = ['node', '-e', 'setInterval(() => {}, 1000)'];
    for (const name of ['api', 'old']) {
      const r = await json<BackendView>(`${gateway.url}/api/backends`, { method: 'POST', body: { name, command, host: 'alpha', autostart: false } });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
    }

    await stop(alpha);
    rmSync(homes.alpha, { recursive: true, force: true });
    mkdirSync(homes.alpha);
    alpha = await startHost('alpha');

    // Seen connected with a new log: retired before the new log writes anything.
    const retired = await until(async () => {
      const { body } = await json<BackendView>(`${gateway.url}/api/backends/api`);
      return body.status === 'retired' ? body : null;
    }, 'api retired at the gateway');
    expect(retired.retired).toMatchObject({ reason: 'new-log', message: expect.stringMatching(/host alpha restarted with a new log/) });
    const ls = await f(['backend', 'ls']);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(/^api .*retired/m);
    expect(ls.stdout).toMatch(/api: retired, host alpha restarted with a new log/);

    const rm = await f(['backend', 'rm', 'old']);
    expect(rm.code, rm.stderr).toBe(0);
    expect((await json(`${gateway.url}/api/backends/old`)).status).toBe(404);

    const add = await f(['backend', 'add', 'api', '--on', 'alpha', '--no-start', '--', ...command]);
    expect(add.code, add.stderr).toBe(0);
    const readded = await json<BackendView & { version: number }>(`${gateway.url}/api/backends/api`);
    expect(readded.body).toMatchObject({ status: 'stopped', host: 'alpha', retired: null, version: 1 });
    const { body: list } = await json<{ backends: BackendView[] }>(`${gateway.url}/api/backends`);
    expect(list.backends.filter((b) => b.name === 'api' || b.name === 'old').map((b) => b.name)).toEqual(['api']);

    // Two logs of alpha: the wiped one retired (its install and backend api still listed so), the new one live.
    const { body: hosts } = await json<{ hosts: (HostView & { epochs: { epoch: string; reason: string | null }[] })[] }>(`${gateway.url}/api/hosts`);
    const now = hosts.hosts.find((h) => h.id === 'alpha')!;
    expect(now).toMatchObject({ connected: true, actors: 1, retired: 1 });
    expect(now.epochs.map((e) => [e.epoch === now.epoch, e.reason])).toEqual([
      [false, 'new-log'],
      [true, null],
    ]);
  });

  it('f host forget refuses a host that is connected, and retires every actor of one that is gone', async () => {
    const refused = await f(['host', 'forget', 'beta']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/host beta is connected right now/);
    const direct = await json<ErrorBody>(`${gateway.url}/api/hosts/beta/forget`, { method: 'POST' });
    expect(direct.status).toBe(409);

    await stop(beta);
    await until(async () => (await json<{ hosts: HostView[] }>(`${gateway.url}/api/hosts`)).body.hosts.find((h) => h.id === 'beta')?.connected === false, 'beta seen gone');
    const forgot = await f(['host', 'forget', 'beta']);
    expect(forgot.code, forgot.stderr).toBe(0);
    expect(forgot.stdout).toMatch(/forgot host beta: 1 actor\(s\) retired/);

    const { body } = await json<{ installs: InstallView[] }>(`${gateway.url}/api/installs`);
    expect(body.installs.find((i) => i.host === 'beta')).toMatchObject({ status: 'retired' });
    expect(body.installs.find((i) => i.host === 'alpha')).toMatchObject({ status: 'retired' });
    const { body: hosts } = await json<{ hosts: HostView[] }>(`${gateway.url}/api/hosts`);
    expect(hosts.hosts.find((h) => h.id === 'beta')).toMatchObject({ epoch: null, connected: false, actors: 0, retired: 1 });
    expect((await json<ErrorBody>(`${gateway.url}/api/hosts/gamma/forget`, { method: 'POST' })).status).toBe(404);
  });
});
