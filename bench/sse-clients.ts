/**
 * The client side of bench/sse-latency.ts, in its own process so that parsing 1,000 streams does
 * not share an event loop with the server being measured. Driven over IPC by the parent:
 *   {cmd:'connect', url, n}      open n SSE streams (plain http.get, no agent), wait for each one's
 *                                `event: hello` frame → {type:'connected', n, ms}
 *   {cmd:'collect', expect, timeoutMs}
 *                                wait until every stream has `expect` events (or the timeout) →
 *                                {type:'stats', samples, missing, p50, p90, p99, max} in ms
 *   {cmd:'close'}                destroy every socket → {type:'closed'}
 *   {cmd:'exit'}
 * Latency = receive time − the `t0` the server put in the event's data, both from
 * process.hrtime (CLOCK_MONOTONIC: one clock for every process on the machine). Frames are
 * parsed by hand: split on the blank line, take `data:`, find `"t0":"`.
 */
import http from 'node:http';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { percentileSorted } from './lib.js';

type Msg = { cmd: 'connect'; url: string; n: number } | { cmd: 'collect'; expect: number; timeoutMs: number } | { cmd: 'close' } | { cmd: 'exit' };

interface Client {
  req: ClientRequest;
  res: IncomingMessage | null;
  buf: string;
  ready: boolean;
  received: number;
}

let clients: Client[] = [];
let samples = new Float64Array(0);
let nSamples = 0;
let onProgress: (() => void) | null = null;

function send(m: unknown): void {
  process.send?.(m);
}

function record(latencyMs: number): void {
  if (nSamples === samples.length) {
    const next = new Float64Array(Math.max(1024, samples.length * 2));
    next.set(samples);
    samples = next;
  }
  samples[nSamples++] = latencyMs;
}

function onChunk(c: Client, chunk: string): void {
  const now = process.hrtime.bigint();
  c.buf += chunk;
  let end: number;
  while ((end = c.buf.indexOf('\n\n')) >= 0) {
    const frame = c.buf.slice(0, end);
    c.buf = c.buf.slice(end + 2);
    if (frame.startsWith(':')) continue; // comment / heartbeat
    if (frame.includes('event: hello')) {
      c.ready = true;
      continue;
    }
    const at = frame.indexOf('"t0":"');
    if (at < 0) continue;
    const t0 = BigInt(frame.slice(at + 6, frame.indexOf('"', at + 6)));
    c.received++;
    record(Number(now - t0) / 1e6);
  }
  onProgress?.();
}

function open(url: URL): Client {
  const c: Client = { req: null as unknown as ClientRequest, res: null, buf: '', ready: false, received: 0 };
  c.req = http.get({ host: url.hostname, port: url.port, path: url.pathname + url.search, agent: false, headers: { accept: 'text/event-stream' } }, (res) => {
    c.res = res;
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => onChunk(c, chunk));
    res.on('error', () => {});
  });
  c.req.on('error', () => {});
  return c;
}

function waitFor(pred: () => boolean, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (pred()) return resolve(true);
    const timer = setTimeout(() => {
      onProgress = null;
      resolve(pred());
    }, timeoutMs);
    onProgress = () => {
      if (!pred()) return;
      clearTimeout(timer);
      onProgress = null;
      resolve(true);
    };
  });
}

async function connect(url: URL, n: number): Promise<void> {
  const t0 = Date.now();
  // Open in waves so the listen backlog (511) never overflows into SYN retries.
  const WAVE = 100;
  for (let i = 0; i < n; i += WAVE) {
    const wave: Client[] = [];
    for (let j = i; j < Math.min(n, i + WAVE); j++) wave.push(open(url));
    clients.push(...wave);
    const ok = await waitFor(() => wave.every((c) => c.ready), 20_000);
    if (!ok) throw new Error(`only ${wave.filter((c) => c.ready).length} of ${wave.length} streams said hello within 20 s`);
  }
  nSamples = 0;
  for (const c of clients) c.received = 0;
  send({ type: 'connected', n: clients.length, ms: Date.now() - t0 });
}

async function collect(expect: number, timeoutMs: number): Promise<void> {
  await waitFor(() => clients.every((c) => c.received >= expect), timeoutMs);
  const sorted = samples.slice(0, nSamples).sort();
  const missing = clients.reduce((m, c) => m + Math.max(0, expect - c.received), 0);
  send({
    type: 'stats',
    samples: nSamples,
    missing,
    p50: percentileSorted(sorted, 50),
    p90: percentileSorted(sorted, 90),
    p99: percentileSorted(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
  });
}

function closeAll(): void {
  for (const c of clients) {
    c.res?.destroy();
    c.req.destroy();
  }
  clients = [];
  nSamples = 0;
  send({ type: 'closed' });
}

process.on('message', (m: Msg) => {
  const fail = (err: unknown) => send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  switch (m.cmd) {
    case 'connect':
      connect(new URL(m.url), m.n).catch(fail);
      break;
    case 'collect':
      collect(m.expect, m.timeoutMs).catch(fail);
      break;
    case 'close':
      closeAll();
      break;
    case 'exit':
      closeAll();
      process.disconnect?.();
      process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
