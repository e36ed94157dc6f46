import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../services/host/ports.js';
import { CRASHY } from '../support/host.js';
import { json, startF, until, type FlowProcess } from '../support/flow-process.js';
import { cleanupPrefix, serviceUrls, uniquePrefix } from '../support/services.js';
import { compareLogWithProc, expectLogAgreesWithProc, killTagged, loggedPids, loggedRuns, newTag, TAG_VAR, taggedProcesses } from '../support/spawn-oracle.js';
import { tempDir } from '../support/tmp.js';

const urls = await serviceUrls();

const POINTS = ['before-spawn', 'after-spawn-before-record', 'after-record'] as const;
const MOVING = new Set(['starting', 'stopping', 'restarting', 'removing', 'backoff', 'interrupted', 'crashed']);

/**
 * The distributed variant of test/e2e/spawn-kill.test.ts: a real `f host` (its own FLOW_HOME
 * and log) taking commands from a real gateway over BullMQ is killed at each named point of a
 * backend's spawn, and at instants of concurrent restarts; its next start leaves no process
 * that descends from the killed hosts and that its log does not show running.
 */
describe.skipIf(!urls)('kill -9 of f host during a spawn (real Redis and NATS)', () => {
  const prefix = uniquePrefix('spawnkill');
  const tag = newTag();
  const dirs = { host: tempDir('flow-sk-host-'), gateway: tempDir('flow-sk-gw-') };
  const home = join(dirs.host.dir, 'home');
  let env: Record<string, string>;
  let gateway: FlowProcess;
  let host: FlowProcess | null = null;
  let killPoints = 0;
  // Commands the gateway is still waiting on: answered before it is stopped.
  const pending: Promise<unknown>[] = [];

  const startHost = async (extra: Record<string, string> = {}) => {
    host = await startF(['host', '--id', 'alpha'], home, { ...env, [TAG_VAR]: tag, ...extra }, /Flow host (alpha) is up/);
    return host;
  };
  const post = (path: string, body?: unknown) => {
    const answer = json(`${gateway.url}${path}`, { method: 'POST', body }).catch(() => undefined);
    pending.push(answer);
    return answer;
  };
  const addBackend = (name: string, grandchild = false) =>
    post('/api/backends', { name, command: [process.execPath, CRASHY, ...(grandchild ? ['--grandchild'] : [])], cwd: process.cwd(), stopGraceMs: 1000, host: 'alpha' });

  async function died(f: FlowProcess): Promise<void> {
    const exit = await Promise.race([f.exited, new Promise<null>((r) => setTimeout(() => r(null), 30_000))]);
    if (!exit) throw new Error(`f host was not killed at its fault point:\n${f.output()}`);
    expect(exit.signal).toBe('SIGKILL');
  }

  async function settled(f: FlowProcess): Promise<void> {
    await until(
      () => [...loggedRuns(home).statuses.values()].every((s) => !MOVING.has(s)) && compareLogWithProc(home, tag, [f.proc.pid!]).deadRuns.length === 0,
      'the host to settle',
      60_000,
    );
  }

  beforeAll(async () => {
    // Short job locks: a command held by a killed host goes to its next start within seconds.
    env = { FLOW_NATS_URL: urls!.natsUrl, FLOW_REDIS_URL: urls!.redisUrl, FLOW_NATS_PREFIX: prefix, FLOW_QUEUE_LOCK_MS: '2000' };
    const port = await freePort();
    gateway = await startF(['gateway', '--port', String(port)], dirs.gateway.dir, env, /Flow gateway is up at (\S+)/);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(pending);
    for (const p of [host, gateway]) {
      if (p && p.proc.exitCode === null && p.proc.signalCode === null) {
        p.proc.kill('SIGTERM');
        await p.exited;
      }
    }
    killTagged(tag);
    dirs.host.cleanup();
    dirs.gateway.cleanup();
    await cleanupPrefix(urls!, prefix);
    process.stdout.write(`spawn-kill (distributed): ${killPoints} kill points tried\n`);
  }, 90_000);

  it('at each named point of a backend spawn, and at instants of concurrent restarts', { timeout: 150_000 }, async () => {
    for (const [i, point] of POINTS.entries()) {
      const name = `b${i}`;
      const f = await startHost({ FLOW_FAULT_KILL_AT: `${point}@backend-child:${name}` });
      void addBackend(name, true);
      await died(f);
      killPoints += 1;
      const { events } = loggedRuns(home);
      expect(events.filter((e) => e.streamId === `backend-child:${name}` && e.type === 'PROCESS_STARTED').length, point).toBe(point === 'after-record' ? 1 : 0);
      if (point === 'after-spawn-before-record') {
        const named = loggedPids(events);
        expect(taggedProcesses(tag).filter((p) => !named.has(p.pgid)).length, 'an unnamed process').toBeGreaterThan(0);
      }
    }

    let f = await startHost();
    for (const delay of [30, 60, 90, 120]) {
      // A command the killed host had taken goes to this one once its job lock expires: let
      // every command in flight be answered before comparing a host that has come to rest.
      await Promise.all(pending);
      await settled(f);
      expectLogAgreesWithProc(home, tag, { pid: f.proc.pid!, output: f.output });
      void Promise.all(POINTS.map((_, i) => post(`/api/backends/b${i}/restart`)));
      await new Promise((r) => setTimeout(r, delay));
      f.proc.kill('SIGKILL');
      await f.exited;
      killPoints += 1;
      f = await startHost();
    }
    await Promise.all(pending);
    await settled(f);
    expectLogAgreesWithProc(home, tag, { pid: f.proc.pid!, output: f.output });
    f.proc.kill('SIGTERM');
    expect((await f.exited).code).toBe(0);
    expect(taggedProcesses(tag).map((p) => `${p.pid} ${p.cmdline}`)).toEqual([]);
  });
});
