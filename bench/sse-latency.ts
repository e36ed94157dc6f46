/**
 * Event → SSE client latency: an event appended to the store, to the moment each connected
 * client has read it from GET /api/events, with 1, 100 and 1,000 clients on loopback.
 *
 *   node dist/bench/sse-latency.js [--clients=1,100,1000] [--rate 20] [--events 120] [--rounds 2]
 *
 * Flow: buildGateway() over a real EventStore (temp dir, ActorProjector), an
 * InProcessCommandQueue with a trivial handler, an InProcessLiveBus and a read model from
 * readActors, listening on 127.0.0.1:0. Events are appended with store.append at a steady
 * rate; each carries `t0` (process.hrtime, taken just before the append).
 * Baseline, same run: a bare node:http server that writes the same envelope as an SSE frame to
 * the same number of clients (one JSON.stringify per event, one write per client).
 * Clients live in a separate process (bench/sse-clients.ts) with raw http.get, no agent.
 * Flow and the baseline alternate within each round; per client count the medians of the
 * rounds' p50/p99 are reported, and the ratio flow/bare of the p99s.
 * Why 20 events/s: a control plane's events are process starts/exits, commands and timers, not
 * output lines (those are live-only); and with 1,000 clients every event is 1,000 reads in the
 * client process, which shares the machine's two cores with the server being measured.
 * The server's CPU time per event (user + sys, from the first event until every client has read
 * the last) is reported too: it is much less disturbed by other load than latency is.
 * Quality bar (DESIGN.md): p99 under 10 ms with 1,000 connected clients.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { v7 as uuidv7 } from 'uuid';
import type { EventEnvelope } from '../services/store/envelope.js';
import { probeData, storeTarget } from './sse-target.js';
import { fmt, intFlag, machineLine, measureSse, median, SseClients, table, type SseStats, type SseTarget } from './lib.js';

const RATE = intFlag('rate', 'BENCH_RATE', 20);
const EVENTS = intFlag('events', 'BENCH_EVENTS', 120);
const ROUNDS = intFlag('rounds', 'BENCH_ROUNDS', 2);
const CLIENTS = (process.argv.find((a) => a.startsWith('--clients='))?.slice(10) ?? process.env.BENCH_CLIENTS ?? '1,100,1000').split(',').map(Number);
/** --only=flow or --only=bare: one side alone (for profiling); no ratio then. */
const ONLY = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
const BAR_MS = 10;
const STREAM = 'bench:latency';


async function startBare(): Promise<SseTarget> {
  const clients = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write(`event: hello\ndata: {}\n\n`);
    clients.add(res);
    res.on('close', () => clients.delete(res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  let position = 0;
  return {
    url: `http://127.0.0.1:${port}/api/events`,
    emit(i) {
      position += 1;
      const env: EventEnvelope = { id: uuidv7(), position, host: 'bench', epoch: 'bench', streamType: 'bench', streamId: STREAM, version: position, type: 'PROBE', data: probeData(i), meta: {}, at: new Date().toISOString() };
      const frame = `id: ${position}\ndata: ${JSON.stringify(env)}\n\n`;
      for (const res of clients) res.write(frame);
    },
    async close() {
      for (const res of clients) res.end();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

async function main(): Promise<void> {
  console.log(`# sse-latency: clients ${CLIENTS.join('/')}, ${EVENTS} events at ${RATE}/s, ${ROUNDS} rounds`);
  console.log(`# ${machineLine()}`);
  const clients = await SseClients.start();
  const results = new Map<string, SseStats[]>();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const n of CLIENTS) {
        const order = (round % 2 ? (['flow', 'bare'] as const) : (['bare', 'flow'] as const)).filter((t) => !ONLY || t === ONLY);
        for (const which of order) {
          const s = await measureSse(clients, which === 'flow' ? () => storeTarget('sse', STREAM) : startBare, n, EVENTS, RATE);
          const key = `${which}:${n}`;
          results.set(key, [...(results.get(key) ?? []), s]);
          console.log(`  round ${round + 1} ${which.padEnd(4)} ${String(n).padStart(4)} clients: p50 ${fmt(s.p50)} ms, p99 ${fmt(s.p99)} ms, max ${fmt(s.max)} ms, server cpu ${fmt(s.cpuUsPerEvent / 1000)} ms/event, ${s.samples} samples${s.missing ? `, ${s.missing} MISSING` : ''}`);
        }
      }
    }
  } finally {
    await clients.exit();
  }

  const med = (key: string, f: keyof SseStats) => median((results.get(key) ?? []).map((s) => s[f]));
  const ratio = (n: number) => median((results.get(`flow:${n}`) ?? []).map((s, i) => s.p99 / results.get(`bare:${n}`)![i]!.p99));
  console.log('');
  console.log(
    table(
      ['clients', 'flow p50 ms', 'flow p99 ms', 'bare p50 ms', 'bare p99 ms', 'p99 flow/bare', 'cpu ms/event flow', 'bare', 'missing', `bar p99 < ${BAR_MS} ms`],
      CLIENTS.map((n) => [
        String(n),
        fmt(med(`flow:${n}`, 'p50')),
        fmt(med(`flow:${n}`, 'p99')),
        fmt(med(`bare:${n}`, 'p50')),
        fmt(med(`bare:${n}`, 'p99')),
        fmt(ratio(n)),
        fmt(med(`flow:${n}`, 'cpuUsPerEvent') / 1000, 3),
        fmt(med(`bare:${n}`, 'cpuUsPerEvent') / 1000, 3),
        String((results.get(`flow:${n}`) ?? []).reduce((m, s) => m + s.missing, 0)),
        n === 1000 ? (med(`flow:${n}`, 'p99') < BAR_MS ? 'met' : 'MISSED') : '',
      ]),
    ),
  );
  const top = Math.max(...CLIENTS);
  console.log('');
  console.log(`RESULT sse-latency clients=${top} flow-p99=${fmt(med(`flow:${top}`, 'p99'))}ms bare-p99=${fmt(med(`bare:${top}`, 'p99'))}ms ratio=${fmt(ratio(top))} (bar p99 < ${BAR_MS} ms at 1000 clients: ${top >= 1000 ? (med(`flow:${top}`, 'p99') < BAR_MS ? 'met' : 'MISSED') : 'not measured'})`);
}

await main();
