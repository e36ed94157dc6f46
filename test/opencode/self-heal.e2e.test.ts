import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive, signalGroup } from '../../services/host/proc.js';
import { startStubModel, type StubModel } from '../fixtures/stub-model-server.js';
import { json, requireBuild, startFlow, until, type FlowProcess } from '../support/flow-process.js';
import { readLog } from '../support/spawn-oracle.js';
import { tempDir } from '../support/tmp.js';
import { endSpec, instance, type InstanceView, ProcessWatch, project, waitInstance } from './helpers.js';

/**
 * Issue 15 item 9 with real `opencode serve`: a server that stops answering (SIGSTOP: alive,
 * listening, silent, as a hung process is) is noticed by the periodic health check and
 * restarted; and an `f up` stopped and started again brings its running instances back.
 */
describe.sequential('self-healing opencode instances', { timeout: 180_000 }, () => {
  let stub: StubModel;
  let flow: FlowProcess;
  let home: string;
  const cleanups: (() => void)[] = [];
  const watch = new ProcessWatch();
  const stopped: number[] = [];

  beforeAll(async () => {
    requireBuild();
    stub = await startStubModel();
    const h = tempDir('flow-oc-heal-');
    cleanups.push(h.cleanup);
    home = h.dir;
    flow = await startFlow(home);
  });

  afterAll(async () => {
    // A SIGSTOPped process ignores SIGTERM until continued: let every one go before cleaning up.
    for (const pid of stopped) if (isAlive(pid)) signalGroup(pid, 'SIGCONT');
    await endSpec({ flow, watch, home, stub, cleanups });
  });

  it('a hung opencode is found by the health check, stopped and started again; the log says why', async () => {
    // Checks every 500 ms, 1.5 s to answer, two silent checks in a row: hung. Generous enough for a loaded machine.
    const body = { directory: project(stub, cleanups), id: 'hang', health: { intervalMs: 500, timeoutMs: 1500, failures: 2 } };
    expect((await json(`${flow.url}/api/instances`, { method: 'POST', body })).status).toBe(201);
    const first = await waitInstance(flow, 'hang', 'running', watch, 90_000);
    await until(async () => ((await instance(flow, 'hang')).healthCheck.lastOkAt !== first.healthCheck.lastOkAt ? true : undefined), 'a periodic health check to pass', 30_000);
    expect((await instance(flow, 'hang')).health).toBe('healthy');

    process.kill(first.pid!, 'SIGSTOP');
    stopped.push(first.pid!);
    const back = await until(
      async () => {
        const v = await instance(flow, 'hang');
        watch.note(v.pid);
        return v.status === 'running' && v.pid !== first.pid ? v : undefined;
      },
      'hang to run again in a new process',
      120_000,
    );
    expect(isAlive(first.pid!)).toBe(false);
    expect(back.restarts).toBe(1);
    expect(back.restartReason).toMatch(/^opencode stopped answering: 2 health check\(s\) in a row failed/);
    expect(back.health).toBe('healthy');

    const types = readLog(home).filter((e) => e.streamId === 'opencode-instance:hang').map((e) => e.type);
    expect(types).toContain('HEALTH_OK');
    const fromFirstFailure = types.slice(types.lastIndexOf('HEALTH_OK', types.indexOf('PROCESS_EXITED')));
    expect(fromFirstFailure.filter((t) => t === 'PROCESS_EXITED')).toHaveLength(1);
    expect(fromFirstFailure.indexOf('SPAWNED')).toBeGreaterThan(fromFirstFailure.indexOf('PROCESS_EXITED'));
  });

  it('f up stopped with SIGTERM and started again: the running instance is brought back, in a new process', async () => {
    const before = await waitInstance(flow, 'hang', 'running', watch);
    flow.proc.kill('SIGTERM');
    await flow.exited;
    expect(isAlive(before.pid!)).toBe(false);

    flow = await startFlow(home);
    const back: InstanceView = await waitInstance(flow, 'hang', 'running', watch, 90_000);
    expect(back.pid).not.toBe(before.pid);
    expect(back.lastExit).toMatchObject({ pid: before.pid, cause: 'host-shutdown' });
    expect(watch.alive()).toEqual([back.pid]);
  });

  it('an instance stopped by hand stays stopped when f up comes back', async () => {
    expect((await json(`${flow.url}/api/instances/hang/stop`, { method: 'POST' })).status).toBe(200);
    await waitInstance(flow, 'hang', 'stopped');
    flow.proc.kill('SIGTERM');
    await flow.exited;
    flow = await startFlow(home);
    expect((await instance(flow, 'hang')).status).toBe('stopped');
    expect(watch.alive()).toEqual([]);
  });
});
