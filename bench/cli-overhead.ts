import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * What the CLI costs, in one run on this machine, against a bare `node -e 0` (Node's own
 * start-up, the floor for anything written in Node):
 * - `f cli` and the shims: a trivial shell tool run directly, through its shim in
 *   $FLOW_HOME/bin, and through `f cli <id> --`. Goals (DESIGN.md): the shim adds under 5 ms;
 *   `f cli` costs under 1.3x `node -e 0`.
 * - every command family, against a real `f up` (port 0) of the same FLOW_HOME, found by its
 *   lock file. Bars (issue 13): `f backend ls`, `f events tail -n 20`, `f --help` ≤ 1.5x.
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
const env: NodeJS.ProcessEnv = { ...process.env, FLOW_HOME: home, FLOW_CLI_DEV_ROOTS: '', FLOW_HOST_ID: 'bench' };
// The CLI finds the bench's f up by its lock file, as a user's shell would.
delete env.FLOW_URL;
delete env.FLOW_PORT;

/** The commands issue 13 sets a bar for (≤ 1.5x node -e 0). */
const BAR_COMMANDS = ['f --help', 'f backend ls', 'f events tail -n 20'];

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

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

/** Starts `f up --port 0` in the bench's FLOW_HOME and resolves once it says where it is. */
function startUp(): Promise<{ stop: () => Promise<void> }> {
  const proc = spawn(process.execPath, [F_MAIN, 'up', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (/Flow is up at \S+/.test(out)) resolve({ stop: () => new Promise((done) => (proc.once('exit', () => done()), proc.kill('SIGTERM'))) });
    });
    proc.once('exit', (code) => reject(new Error(`f up exited ${code}: ${out}`)));
  });
}

/** Every command family, interleaved with `node -e 0`, while a real `f up` runs. */
async function families(): Promise<void> {
  const up = await startUp();
  try {
    run(process.execPath, [F_MAIN, 'backend', 'add', 'bench', '--no-start', '--', 'true']);
    const cases: [string, string[]][] = [
      ['node -e 0', ['-e', '0']],
      ['f --help', [F_MAIN, '--help']],
      ['f backend ls', [F_MAIN, 'backend', 'ls']],
      ['f backend ls --help', [F_MAIN, 'backend', 'ls', '--help']],
      ['f events tail -n 20', [F_MAIN, 'events', 'tail', '-n', '20']],
      ['f instance ls', [F_MAIN, 'instance', 'ls']],
      ['f attention ls', [F_MAIN, 'attention', 'ls']],
      ['f tunnel ls', [F_MAIN, 'tunnel', 'ls']],
      ['f auth status', [F_MAIN, 'auth', 'status']],
      ['f host --help', [F_MAIN, 'host', '--help']],
      ['f up --help', [F_MAIN, 'up', '--help']],
      ['f relay --help', [F_MAIN, 'relay', '--help']],
      ['f cli list', [F_MAIN, 'cli', 'list']],
      ['f catalog --help', [F_MAIN, 'catalog', '--help']],
    ];
    const samples = new Map<string, number[]>(cases.map(([n]) => [n, []]));
    const cpuSamples = new Map<string, number[]>(cases.map(([n]) => [n, []]));
    const time = (args: string[], withEnv = env) => {
      const t0 = process.hrtime.bigint();
      spawnSync(process.execPath, args, { cwd: work, env: withEnv, stdio: 'ignore' });
      return Number(process.hrtime.bigint() - t0) / 1e6;
    };
    for (const [, a] of cases) time(a);
    for (let i = 0; i < rounds; i++) for (const [n, a] of cases) samples.get(n)!.push(time(a));
    for (let i = 0; i < Math.max(5, Math.floor(rounds / 2)); i++) {
      for (const [n, a] of cases) {
        const ms = cpu(process.execPath, a);
        if (ms !== null) cpuSamples.get(n)!.push(ms);
      }
    }
    const node = median(samples.get('node -e 0')!);
    const nodeCpu = cpuSamples.get('node -e 0')!.length ? median(cpuSamples.get('node -e 0')!) : NaN;
    console.log(`command families: ${rounds} interleaved rounds (median wall), CPU user+sys (median, time(1)), against a running f up`);
    for (const [n] of cases) {
      const w = median(samples.get(n)!);
      const c = cpuSamples.get(n)!.length ? median(cpuSamples.get(n)!) : NaN;
      const bar = BAR_COMMANDS.includes(n) ? (w / node <= 1.5 ? '  bar ≤1.5x: met' : '  bar ≤1.5x: NOT met') : '';
      console.log(`  ${n.padEnd(22)} ${w.toFixed(1).padStart(7)} ms  ${(w / node).toFixed(2)}x wall   ${c.toFixed(0).padStart(4)} ms  ${(c / nodeCpu).toFixed(2)}x cpu${bar}`);
    }
    // This machine sets NODE_EXTRA_CA_CERTS, so every Node start (node -e 0 too) first reads the
    // system's CA bundle: a floor of ~100 ms instead of ~35. Without it, what f adds weighs more.
    if (env.NODE_EXTRA_CA_CERTS) {
      const bare = { ...env };
      delete bare.NODE_EXTRA_CA_CERTS;
      const barCases = cases.filter(([n]) => n === 'node -e 0' || BAR_COMMANDS.includes(n));
      const bareSamples = new Map<string, number[]>(barCases.map(([n]) => [n, []]));
      for (let i = 0; i < rounds; i++) for (const [n, a] of barCases) bareSamples.get(n)!.push(time(a, bare));
      const bareNode = median(bareSamples.get('node -e 0')!);
      console.log(`the same without NODE_EXTRA_CA_CERTS (set here to ${env.NODE_EXTRA_CA_CERTS}), ${rounds} interleaved rounds:`);
      for (const [n] of barCases) {
        const w = median(bareSamples.get(n)!);
        console.log(`  ${n.padEnd(22)} ${w.toFixed(1).padStart(7)} ms  ${(w / bareNode).toFixed(2)}x wall`);
      }
    }
  } finally {
    await up.stop();
  }
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
  await families();
  console.log(`machine load (1/5/15 min): ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}, ${availableParallelism()} cores`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
