/**
 * Runs every benchmark in sequence, each in its own Node process (fresh heap, no JIT state
 * carried over), and ends with their RESULT lines.
 *
 *   npm run bench                      (builds, then node dist/bench/run-all.js)
 *   node dist/bench/run-all.js [--only append-throughput,fold-million]
 *
 * Flags other than --only are not passed on; each script reads its own BENCH_* variables.
 * distributed-sse-latency and command-roundtrip need NATS (JetStream) and Redis: FLOW_NATS_URL /
 * FLOW_REDIS_URL, else 127.0.0.1:4222 and :6379; without them they fail (and say why).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { machineLine } from './lib.js';

const ALL = ['append-throughput', 'fold-million', 'startup-verify', 'sse-latency', 'gateway-rest', 'cli-overhead', 'distributed-sse-latency', 'command-roundtrip'] as const;

const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
const selected = only ? only.split(',').filter((n): n is (typeof ALL)[number] => (ALL as readonly string[]).includes(n)) : [...ALL];

function run(name: string): Promise<{ code: number | null; results: string[]; ms: number }> {
  const script = fileURLToPath(new URL(`./${name}.js`, import.meta.url));
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const results: string[] = [];
    let pending = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      process.stdout.write(chunk);
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const l of lines) if (l.startsWith('RESULT ')) results.push(l);
    });
    child.on('close', (code) => {
      if (pending.startsWith('RESULT ')) results.push(pending);
      resolve({ code, results, ms: Date.now() - t0 });
    });
  });
}

console.log(`# flow benchmarks: ${selected.join(', ')}`);
console.log(`# ${machineLine()}`);
const summary: string[] = [];
let failed = 0;
for (const name of selected) {
  console.log(`\n=== ${name} (node dist/bench/${name}.js)`);
  const r = await run(name);
  if (r.code !== 0) {
    failed++;
    summary.push(`${name}: FAILED (exit ${r.code})`);
  } else summary.push(...(r.results.length ? r.results : [`${name}: no RESULT line`]));
  console.log(`=== ${name} took ${(r.ms / 1000).toFixed(1)} s`);
}
console.log('\n# summary');
for (const l of summary) console.log(l);
process.exitCode = failed ? 1 : 0;
