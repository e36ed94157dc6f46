/**
 * Spawn-to-ready of an opencode instance through Flow: from the command (POST /api/instances or
 * /start) to `running` (URL parsed from its output, health endpoint answering, event stream
 * subscribed). Also split from the log: SPAWNED → READY is opencode's own start-up, the rest
 * is Flow's. Baseline, same run: the bare `opencode serve` to its `listening on` line.
 *
 *   node dist/bench/opencode-spawn.js [--runs 3]
 */
import { freePort } from '../services/host/ports.js';
import { spawnOpencode } from '../services/opencode/process.js';
import { resolveOpencodeBin } from '../services/opencode/bin.js';
import { signalGroup, waitGroupGone } from '../services/host/proc.js';
import { homeIdOf, spawnSupervised } from '../services/host/supervised-spawn.js';
import { benchTempDir, fmt, intFlag, machineLine, median, nowMs } from './lib.js';
import { api, startOpencodeBench, waitStatus } from './opencode-lib.js';

const RUNS = intFlag('runs', 'BENCH_RUNS', 3);

async function bare(project: string): Promise<number> {
  const data = benchTempDir('oc-bare');
  const t0 = nowMs();
  const identity = { homeId: homeIdOf(data.dir), spawnId: `bench-bare-${t0}`, streamId: 'bench' };
  const p = spawnOpencode({ bin: resolveOpencodeBin(), cwd: project, port: await freePort(), dataDir: data.dir, spawn: (...a) => spawnSupervised(identity, ...a) });
  await p.listening;
  const ms = nowMs() - t0;
  signalGroup(p.pid, 'SIGTERM');
  await p.exited;
  await waitGroupGone(p.pid, 2000);
  data.cleanup();
  return ms;
}

async function main(): Promise<void> {
  console.log(`opencode spawn-to-ready (${machineLine()})`);
  const b = await startOpencodeBench();
  const flow: number[] = [];
  const own: number[] = [];
  const baseline: number[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const t0 = nowMs();
      if (i === 0) await api(`${b.url}/api/instances`, 'POST', { directory: b.project, id: 'bench' });
      else await api(`${b.url}/api/instances/bench/start`, 'POST');
      await waitStatus(b.url, 'bench', 'running');
      flow.push(nowMs() - t0);
      const inst = await api<{ startedAt: string; readyAt: string }>(`${b.url}/api/instances/bench`);
      own.push(Date.parse(inst.readyAt) - Date.parse(inst.startedAt));
      await api(`${b.url}/api/instances/bench/stop`, 'POST');
      await waitStatus(b.url, 'bench', 'stopped');
      baseline.push(await bare(b.project));
    }
  } finally {
    await b.close();
  }
  const row = (name: string, xs: number[]) => console.log(`${name.padEnd(44)} median ${fmt(median(xs), 0)} ms  (runs: ${xs.map((x) => fmt(x, 0)).join(', ')})`);
  row('Flow: command → running', flow);
  row('Flow log: SPAWNED → READY (health confirmed)', own);
  row('bare opencode serve → listening line', baseline);
  console.log(`ratio Flow/bare (medians): ${fmt(median(flow) / median(baseline))}`);
}

await main();
