import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { F_BIN, requireBuild, startF, stopStartedFlows } from '../support/flow-process.js';
import { tempDir } from '../support/tmp.js';

/**
 * Seed 003 listens on a plain `PORT`. `f up` (and `f gateway`) take it when FLOW_PORT is unset;
 * FLOW_PORT wins when both are set; a bad value stops the start with a message naming the variable.
 */
const tmp = tempDir('flow-port-env-');
afterAll(async () => {
  await stopStartedFlows();
  tmp.cleanup();
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

const board = (home: string) => ({ FLOW_TASKS_DIR: join(home, 't'), FLOW_PROJECTS_DIR: join(home, 'p') });

describe('the port f up listens on', () => {
  it('given PORT and no FLOW_PORT, when f up starts without --port, then it listens on PORT', async () => {
    requireBuild();
    const home = join(tmp.dir, 'home-port');
    const port = await freePort();
    const flow = await startF(['up', '--no-apply'], home, { ...board(home), FLOW_PORT: '', PORT: String(port) }, /Flow is up at (\S+)/);
    expect(new URL(flow.url).port).toBe(String(port));
    const res = await fetch(`${flow.url}/api/backends`);
    expect(res.status).toBe(200);
    flow.proc.kill('SIGTERM');
    expect((await flow.exited).code).toBe(0);
  }, 60_000);

  it('given FLOW_PORT and PORT, then FLOW_PORT wins', async () => {
    const home = join(tmp.dir, 'home-both');
    const [mine, other] = [await freePort(), await freePort()];
    const flow = await startF(['up', '--no-apply'], home, { ...board(home), FLOW_PORT: String(mine), PORT: String(other) }, /Flow is up at (\S+)/);
    expect(new URL(flow.url).port).toBe(String(mine));
    flow.proc.kill('SIGTERM');
    expect((await flow.exited).code).toBe(0);
  }, 60_000);

  it('given a bad PORT, then f up stops with a message naming PORT, and other commands are not affected', () => {
    const home = join(tmp.dir, 'home-bad');
    const env: NodeJS.ProcessEnv = { ...process.env, ...board(home), FLOW_HOME: home, FLOW_PORT: '', PORT: 'eighty' };
    delete env.FLOW_URL;
    const up = spawnSync(process.execPath, [F_BIN, 'up', '--no-apply'], { env, encoding: 'utf8', timeout: 30_000 });
    expect(up.status).toBe(1);
    expect(up.stderr).toMatch(/PORT must be a port number from 0 to 65535, not "eighty"/);
    expect(up.stderr).not.toMatch(/FLOW_PORT/);
    const help = spawnSync(process.execPath, [F_BIN, '--help'], { env, encoding: 'utf8', timeout: 30_000 });
    expect(help.status).toBe(0);
  });
});
