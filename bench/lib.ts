import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

/** Shared helpers for the benchmarks: statistics, formatting, temp dirs, simple flags. */

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile of an already sorted array (p in 0..100). */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Runs `fn` and returns how long it took in milliseconds (with its result). */
export function timed<T>(fn: () => T): { ms: number; value: T } {
  const t0 = process.hrtime.bigint();
  const value = fn();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, value };
}

/** Wall time and this process's CPU time (user + system), both in milliseconds. */
export function timedCpu(fn: () => void): { ms: number; cpuMs: number } {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  fn();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const c = process.cpuUsage(c0);
  return { ms, cpuMs: (c.user + c.system) / 1000 };
}

export async function timedAsync<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = process.hrtime.bigint();
  const value = await fn();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, value };
}

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function fmt(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : String(n);
}

/** One line describing where the numbers came from. */
export function machineLine(): string {
  const model = cpus()[0]?.model.trim() ?? 'unknown cpu';
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  return `node ${process.version}, ${availableParallelism()} cpu (${model}), ${process.platform}/${process.arch}, load avg ${load}`;
}

export function benchTempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `flow-bench-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `--name=value` or `--name value` from argv, else the environment variable, else the default. */
export function intFlag(name: string, env: string, dflt: number): number {
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === `--${name}` && argv[i + 1] !== undefined) return parseIntStrict(name, argv[i + 1]!);
    if (a.startsWith(`--${name}=`)) return parseIntStrict(name, a.slice(name.length + 3));
  }
  const v = process.env[env];
  return v !== undefined && v !== '' ? parseIntStrict(env, v) : dflt;
}

function parseIntStrict(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, got ${v}`);
  return n;
}

/** A fixed-width text table. */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Lets the event loop and the GC settle between measured phases. */
export async function settle(ms = 50): Promise<void> {
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, ms));
}

/** Calls `emit(i)` for i = 0..n-1 at `rate` per second, on absolute deadlines (no drift). */
export async function steady(n: number, rate: number, emit: (i: number) => void): Promise<void> {
  const start = Date.now();
  for (let i = 0; i < n; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    emit(i);
  }
}

/** Latency percentiles (ms) as bench/sse-clients.ts reports them. */
export interface ClientStats {
  samples: number;
  missing: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** The SSE client process (bench/sse-clients.ts), and a way to ask it things one at a time. */
export class SseClients {
  private constructor(private readonly child: ChildProcess) {}

  static async start(): Promise<SseClients> {
    const { fork } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const child = fork(fileURLToPath(new URL('./sse-clients.js', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const c = new SseClients(child);
    await c.next('ready');
    return c;
  }

  private next<T>(type: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const onMsg = (m: { type: string; message?: string }) => {
        if (m.type !== type && m.type !== 'error') return;
        this.child.off('message', onMsg);
        this.child.off('exit', onExit);
        if (m.type === 'error') reject(new Error(`clients: ${m.message}`));
        else resolve(m as T);
      };
      const onExit = (code: number | null) => reject(new Error(`the client process exited (${code})`));
      this.child.on('message', onMsg);
      this.child.once('exit', onExit);
    });
  }

  async connect(url: string, n: number): Promise<void> {
    const reply = this.next<{ n: number }>('connected');
    this.child.send({ cmd: 'connect', url, n });
    await reply;
  }

  async collect(expect: number, timeoutMs = 15_000): Promise<ClientStats> {
    const reply = this.next<ClientStats>('stats');
    this.child.send({ cmd: 'collect', expect, timeoutMs });
    return reply;
  }

  async close(): Promise<void> {
    const reply = this.next('closed');
    this.child.send({ cmd: 'close' });
    await reply;
  }

  async exit(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const done = new Promise((r) => this.child.once('exit', r));
    this.child.send({ cmd: 'exit' });
    await done;
  }
}

/**
 * NATS (with JetStream) and Redis for the distributed benchmarks: FLOW_NATS_URL / FLOW_REDIS_URL,
 * else 127.0.0.1:4222 and :6379. Throws with a clear message when either does not answer.
 */
export async function benchServiceUrls(): Promise<{ natsUrl: string; redisUrl: string }> {
  const natsUrl = process.env.FLOW_NATS_URL || 'nats://127.0.0.1:4222';
  const redisUrl = process.env.FLOW_REDIS_URL || 'redis://127.0.0.1:6379';
  const { connect } = await import('node:net');
  const reachable = (url: string, port: number) =>
    new Promise<boolean>((resolve) => {
      const u = new URL(url);
      const socket = connect({ host: u.hostname, port: Number(u.port || port) });
      const done = (ok: boolean) => {
        socket.destroy();
        resolve(ok);
      };
      socket.setTimeout(1000, () => done(false));
      socket.once('connect', () => done(true));
      socket.once('error', () => done(false));
    });
  const [nats, redis] = await Promise.all([reachable(natsUrl, 4222), reachable(redisUrl, 6379)]);
  const missing = [!nats && `NATS at ${natsUrl}`, !redis && `Redis at ${redisUrl}`].filter(Boolean);
  if (missing.length) throw new Error(`this benchmark needs ${missing.join(' and ')} (nats-server -js; redis-server), or FLOW_NATS_URL / FLOW_REDIS_URL`);
  return { natsUrl, redisUrl };
}

/** A name prefix for one benchmark run (flowNames(prefix)): its own JetStream stream and BullMQ keys. */
export function benchPrefix(tag: string): string {
  return `${tag}${process.pid}${Math.random().toString(36).slice(2, 8)}`;
}

/** Deletes what a prefix left on the servers: its JetStream stream and the Redis keys `<bullPrefix>:*`. */
export async function cleanupBenchPrefix(urls: { natsUrl: string; redisUrl: string }, prefix: string): Promise<void> {
  const { deletePrefix } = await import('../services/bus/prefix-cleanup.js');
  await deletePrefix(urls, prefix);
}

/** A server under an SSE latency measurement: where clients connect, and how to make event i. */
export interface SseTarget {
  url: string;
  emit(i: number): void;
  close(): Promise<void>;
}

export interface SseStats extends ClientStats {
  /** Server process CPU time per event, µs. */
  cpuUsPerEvent: number;
}

/**
 * Connects `n` clients to a fresh target, emits `events` at `rate` per second and collects the
 * clients' latencies, plus this process's CPU (user + sys) per event: a number a busy machine
 * disturbs much less than latency.
 */
export async function measureSse(clients: SseClients, start: () => Promise<SseTarget>, n: number, events: number, rate: number): Promise<SseStats> {
  const target = await start();
  try {
    await clients.connect(target.url, n);
    await settle(200);
    const cpu0 = process.cpuUsage();
    await steady(events, rate, (i) => target.emit(i));
    const stats = await clients.collect(events);
    const cpu = process.cpuUsage(cpu0);
    return { ...stats, cpuUsPerEvent: (cpu.user + cpu.system) / events };
  } finally {
    await clients.close();
    await target.close();
  }
}
