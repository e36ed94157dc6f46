import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `npm start` on a tree that is already built (the second start) against what it runs,
 * `node dist/cli/main.js up`: time from spawning to /api/health answering, interleaved rounds
 * of each in one run, each in a fresh FLOW_HOME. Bar (issue 13): ≤ 1.2x. A third case, a package whose
 * start script is that command itself, is what npm costs by itself (its start-up and the shell).
 *
 *   npm run build && node dist/bench/npm-start.js [rounds]
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const rounds = Number(process.argv[2] ?? 8);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Spawns the command in its own process group, polls health, then stops the whole group. */
async function toHealth(cmd: string, args: string[], cwd = root): Promise<number> {
  const home = mkdtempSync(join(tmpdir(), 'flow-bench-start-'));
  const port = await freePort();
  const t0 = performance.now();
  const env: NodeJS.ProcessEnv = { ...process.env, FLOW_HOME: home, FLOW_PORT: String(port) };
  delete env.FLOW_URL;
  const proc = spawn(cmd, args, { cwd, env, stdio: 'ignore', detached: true });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  try {
    for (;;) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/api/health`);
        if (res.ok) return performance.now() - t0;
      } catch {
        // not yet listening
      }
      if (proc.exitCode !== null) throw new Error(`${cmd} ${args.join(' ')} exited ${proc.exitCode} before health answered`);
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    if (proc.exitCode === null && proc.signalCode === null) process.kill(-proc.pid!, 'SIGTERM');
    await exited;
    // npm may be gone while the node under it still stops: wait for the port to close.
    await new Promise((r) => setTimeout(r, 300));
    rmSync(home, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
// The first start may build; what is measured is every start after it.
await toHealth(npm, ['start', '--silent']);
// npm's own floor: a package whose start script is `node dist/cli/main.js up` itself, no check.
const bare = mkdtempSync(join(tmpdir(), 'flow-bench-npm-'));
writeFileSync(join(bare, 'package.json'), JSON.stringify({ name: 'bare', private: true, scripts: { start: `node ${JSON.stringify(join(root, 'dist', 'cli', 'main.js'))} up` } }));
const cases: [string, string, string[], string?][] = [
  ['node dist/cli/main.js up', process.execPath, [join(root, 'dist', 'cli', 'main.js'), 'up']],
  ['npm start (built tree)', npm, ['start', '--silent']],
  ['npm start, script = f up', npm, ['start', '--silent'], bare],
];
const samples = new Map<string, number[]>(cases.map(([n]) => [n, []]));
for (let i = 0; i < rounds; i++) for (const [n, c, a, cwd] of cases) samples.get(n)!.push(await toHealth(c, a, cwd));
rmSync(bare, { recursive: true, force: true });
const direct = median(samples.get(cases[0]![0])!);
const viaNpm = median(samples.get(cases[1]![0])!);
console.log(`npm-start: ${rounds} interleaved rounds, median time from spawn to /api/health answering`);
for (const [n, xs] of samples) console.log(`  ${n.padEnd(26)} ${median(xs).toFixed(0)} ms  (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`);
const floor = median(samples.get(cases[2]![0])!);
console.log(`  npm start vs node … up:    ${(viaNpm / direct).toFixed(2)}x, +${(viaNpm - direct).toFixed(0)} ms (bar ≤ 1.2x: ${viaNpm / direct <= 1.2 ? 'met' : 'NOT met'})`);
console.log(`  npm's own part (no check): ${(floor / direct).toFixed(2)}x, +${(floor - direct).toFixed(0)} ms; Flow's dist check: +${(viaNpm - floor).toFixed(0)} ms`);
console.log(`machine load (1/5/15 min): ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}, ${availableParallelism()} cores`);
