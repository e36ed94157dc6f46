import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * What `f cli` and the shims cost, in one run on this machine: a trivial shell tool run
 * directly, through its shim in $FLOW_HOME/bin, and through `f cli <id> --`, against a bare
 * `node -e 0` (Node's own start-up, the floor for anything written in Node).
 * Goals (DESIGN.md): the shim adds under 5 ms; `f cli` costs under 1.3x `node -e 0`.
 *
 *   npm run build && node dist/bench/cli-overhead.js [rounds]
 */
const here = dirname(fileURLToPath(import.meta.url));
const F_MAIN = join(here, '..', 'cli', 'main.js');
const rounds = Number(process.argv[2] ?? 40);

const work = mkdtempSync(join(tmpdir(), 'flow-bench-cli-'));
const home = join(work, 'home');
const tool = join(work, 'bench-tool');
mkdirSync(tool, { recursive: true });
writeFileSync(join(tool, 'flow-tool.toml'), 'version = 1\nid = "bench-tool"\nlanguage = "sh"\nbinary_name = "bench-tool"\n[exec]\nrun = ["sh", "tool.sh"]\n');
writeFileSync(join(tool, 'tool.sh'), 'exit 0\n');
chmodSync(join(tool, 'tool.sh'), 0o755);
const env = { ...process.env, FLOW_HOME: home, FLOW_CLI_DEV_ROOTS: '', FLOW_HOST_ID: 'bench' };

const TIME = '/usr/bin/time';
const cpuFile = join(work, 'cpu.txt');

/** CPU time (user + sys, ms) of one run, measured by time(1): steadier than wall time on a busy machine. */
function cpu(cmd: string, args: string[], cwd = work): number | null {
  if (!existsSync(TIME)) return null;
  const r = spawnSync(TIME, ['-o', cpuFile, '-f', '%U %S', cmd, ...args], { cwd, env, stdio: 'ignore' });
  if (r.status !== 0) return null;
  const [u, s] = readFileSync(cpuFile, 'utf8').trim().split(/\s+/).map(Number);
  return ((u ?? 0) + (s ?? 0)) * 1000;
}

function run(cmd: string, args: string[], cwd = work): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd, env, stdio: 'ignore' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}`);
  return ms;
}

try {
  run(process.execPath, [F_MAIN, 'install', tool]);
  run(process.execPath, [F_MAIN, 'cli', 'bench-tool', '--']); // fills the run cache, as any first run does
  const commands: [string, string, string[], string?][] = [
    ['direct (sh tool.sh)', 'sh', ['tool.sh'], tool],
    ['shim ($FLOW_HOME/bin)', join(home, 'bin', 'bench-tool'), []],
    ['node -e 0', process.execPath, ['-e', '0']],
    ['f cli bench-tool --', process.execPath, [F_MAIN, 'cli', 'bench-tool', '--']],
    // What `f cli` would cost if cli/main.ts handed `cli <id>` to runFromArgv before loading commander.
    ['f cli, no commander', process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(pathToFileURL(join(here, '..', 'cli', 'commands', 'tools.js')).href)}); await m.runFromArgv(['cli', 'bench-tool', '--']);`]],
  ];
  const cases: [string, () => number][] = commands.map(([n, c, a, d]) => [n, () => run(c, a, d)]);
  const samples = new Map<string, number[]>(cases.map(([n]) => [n, []]));
  for (const [, fn] of cases) fn(); // warm the file cache
  // Interleaved rounds, so drift in machine load falls on every case alike.
  for (let i = 0; i < rounds; i++) for (const [name, fn] of cases) samples.get(name)!.push(fn());
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)]!;
  };
  const med = Object.fromEntries([...samples].map(([n, xs]) => [n, median(xs)]));
  const direct = med['direct (sh tool.sh)']!;
  const shim = med['shim ($FLOW_HOME/bin)']!;
  const node = med['node -e 0']!;
  const fcli = med['f cli bench-tool --']!;
  console.log(`cli-overhead: ${rounds} interleaved rounds, median wall time per run`);
  for (const [n, m] of Object.entries(med)) console.log(`  ${n.padEnd(24)} ${m.toFixed(2)} ms`);
  console.log(`  shim vs direct:          ${(shim / direct).toFixed(2)}x, +${(shim - direct).toFixed(2)} ms (goal: under +5 ms)`);
  console.log(`  f cli vs direct:         ${(fcli / direct).toFixed(2)}x, +${(fcli - direct).toFixed(2)} ms`);
  console.log(`  f cli vs node -e 0:      ${(fcli / node).toFixed(2)}x, +${(fcli - node).toFixed(2)} ms (goal: under 1.3x)`);
  const lean = med['f cli, no commander']!;
  console.log(`  (no commander) vs node:  ${(lean / node).toFixed(2)}x, +${(lean - node).toFixed(2)} ms`);
  const cpuRounds = Math.max(5, Math.floor(rounds / 2));
  const cpuSamples = new Map<string, number[]>(commands.map(([n]) => [n, []]));
  for (let i = 0; i < cpuRounds; i++) {
    for (const [n, c, a, d] of commands) {
      const ms = cpu(c, a, d);
      if (ms !== null) cpuSamples.get(n)!.push(ms);
    }
  }
  if ([...cpuSamples.values()].every((xs) => xs.length > 0)) {
    const m = Object.fromEntries([...cpuSamples].map(([n, xs]) => [n, median(xs)]));
    console.log(`CPU time (user+sys, median of ${cpuRounds}; time(1) resolution 10 ms):`);
    for (const [n, v] of Object.entries(m)) console.log(`  ${n.padEnd(24)} ${v.toFixed(0)} ms`);
    console.log(`  f cli vs node -e 0:      ${(m['f cli bench-tool --']! / m['node -e 0']!).toFixed(2)}x`);
    console.log(`  (no commander) vs node:  ${(m['f cli, no commander']! / m['node -e 0']!).toFixed(2)}x`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
