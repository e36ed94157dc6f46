import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { json, startFlow, type FlowProcess } from '../support/flow-process.js';
import { killLeftoversOfHome } from '../support/proc-scan.js';
import { runF } from '../support/run-f.js';
import { tempDir } from '../support/tmp.js';

/** examples/flow.toml applied end to end against a real f up: dry run, create, change one field, remove one entry. */
const FAKE_CLOUDFLARED = join(process.cwd(), 'test/fixtures/fake-cloudflared.mjs');
const home = tempDir('flow-apply-home-');
const proj = tempDir('flow-apply-proj-');
const file = join(proj.dir, 'flow.toml');
let flow: FlowProcess;
let env: Record<string, string>;

interface Backend {
  name: string;
  status: string;
  config: { port: number | null; cwd: string; env: Record<string, string>; restart?: unknown };
}
const backends = async () => (await json<{ backends: Backend[] }>(`${flow.url}/api/backends`)).body.backends;
const names = async () => (await backends()).map((b) => b.name).sort();
const edit = (f: (text: string) => string) => writeFileSync(file, f(readFileSync(file, 'utf8')));

beforeAll(async () => {
  cpSync(join(process.cwd(), 'examples/flow.toml'), file);
  cpSync(join(process.cwd(), 'examples/flow-demo'), join(proj.dir, 'flow-demo'), { recursive: true });
  flow = await startFlow(home.dir, {
    FLOW_TUNNEL_COMMAND: JSON.stringify([process.execPath, FAKE_CLOUDFLARED, 'tunnel', '--url', 'http://localhost:{port}', '--no-autoupdate']),
    FLOW_TUNNEL_RESOLVE_DIR: join(home.dir, 'tunnel-resolve'),
  });
  env = { FLOW_HOME: home.dir, FLOW_URL: flow.url };
});
afterAll(async () => {
  if (flow && flow.proc.exitCode === null) {
    flow.proc.kill('SIGTERM');
    await flow.exited;
  }
  killLeftoversOfHome(home.dir);
  home.cleanup();
  proj.cleanup();
});

describe('f apply examples/flow.toml', { timeout: 90_000 }, () => {
  it('given a backend added by hand, a dry run shows five creates and changes nothing', async () => {
    expect((await json(`${flow.url}/api/backends`, { method: 'POST', body: { name: 'manual', command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'], cwd: proj.dir } })).status).toBe(201);
    const r = await runF(['apply', file, '--dry-run'], env);
    expect(r.code).toBe(0);
    for (const line of ['+ backend api', '+ backend worker', '+ instance demo', '+ tunnel api', '+ tool hello']) expect(r.stdout).toContain(line);
    expect(r.stdout).toContain('5 to create, 0 to change, 0 to remove, 0 unchanged');
    expect(r.stdout).toContain('dry run: nothing was changed');
    expect(await names()).toEqual(['manual']);
  });

  it('creates every entry through the API, with the restart policy and paths of the file', async () => {
    const r = await runF(['apply', file], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/created backend api \(\w+\)/);
    expect(await names()).toEqual(['api', 'manual', 'worker']);
    const api = (await backends()).find((b) => b.name === 'api')!;
    expect(api.config).toMatchObject({ port: 4710, cwd: join(proj.dir, 'flow-demo'), env: { GREETING: 'hello from flow.toml' }, restart: { maxRestarts: 5, backoffUnitMs: 500, stableAfterMs: 10_000 } });
    const worker = (await backends()).find((b) => b.name === 'worker')!;
    expect(worker.config.restart).toEqual({ maxRestarts: 3, backoffUnitMs: 1000, stableAfterMs: 30_000 });
    const instances = (await json<{ instances: { id: string; status: string; directory: string }[] }>(`${flow.url}/api/instances`)).body.instances;
    expect(instances).toMatchObject([{ id: 'demo', status: 'stopped', directory: join(proj.dir, 'flow-demo') }]);
    const tunnels = (await json<{ tunnels: { name: string; port: number }[] }>(`${flow.url}/api/tunnels`)).body.tunnels;
    expect(tunnels).toMatchObject([{ name: 'api', port: 4710 }]);
    expect((await runF(['cli', 'hello', '--', 'there'], env)).stdout).toBe('hello there\n');
    const again = await runF(['apply', file], env);
    expect(again.stdout).toContain('0 to create, 0 to change, 0 to remove, 5 unchanged');
  });

  it('a changed field is shown as a change and applied by replacing that entry only', async () => {
    edit((t) => t.replace('port = 4710                              # given', 'port = 4711                              # given'));
    const dry = await runF(['apply', file, '--dry-run'], env);
    expect(dry.stdout).toMatch(/~ backend api\s+change: port 4710 → 4711/);
    expect(dry.stdout).toContain('0 to create, 1 to change, 0 to remove, 4 unchanged');
    const workerBefore = (await backends()).find((b) => b.name === 'worker')!;
    const r = await runF(['apply', file], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/changed backend api/);
    expect((await backends()).find((b) => b.name === 'api')!.config.port).toBe(4711);
    // The others were not touched (same process).
    expect((await json<{ pid: number | null }>(`${flow.url}/api/backends/worker`)).body.pid).toBe((workerBefore as unknown as { pid: number | null }).pid);
  });

  it('an entry taken out of the file is removed, because this file created it; the one added by hand stays', async () => {
    edit((t) => t.replace(/\[backends\.worker\][\s\S]*?(?=\[instances\.demo\])/, ''));
    const dry = await runF(['apply', file, '--dry-run'], env);
    expect(dry.stdout).toMatch(/- backend worker\s+remove/);
    expect(dry.stdout).not.toContain('manual');
    const r = await runF(['apply', file], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('removed backend worker');
    expect(await names()).toEqual(['api', 'manual']);
  });
});
