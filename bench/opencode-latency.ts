/**
 * What a text delta gains on its way through Flow: the same `message.part.delta` read from
 * opencode's own /event stream and from Flow's /api/sessions/:id/events, in the same run, by
 * two clients in this process; per delta, (arrival via Flow) − (arrival direct). p50/p99.
 *
 *   node dist/bench/opencode-latency.js [--deltas 300] [--gap 10] [--turns 2]
 *
 * Flow runs in this process too (bench/opencode-lib.ts), so its forwarding shares the event
 * loop with both clients: a conservative setting for Flow, not a flattering one.
 */
import { createParser } from 'eventsource-parser';
import { basicAuth, type OpencodeEndpoint } from '../services/opencode/client.js';
import { fmt, intFlag, machineLine, nowMs, percentileSorted } from './lib.js';
import { api, startOpencodeBench, waitStatus } from './opencode-lib.js';

const DELTAS = intFlag('deltas', 'BENCH_DELTAS', 300);
const GAP = intFlag('gap', 'BENCH_GAP', 10);
const TURNS = intFlag('turns', 'BENCH_TURNS', 2);

/** Reads an SSE response, calling `on` with each `data` JSON and the time it was read. */
function follow(url: string, headers: Record<string, string>, signal: AbortSignal, on: (data: Record<string, unknown>, at: number) => void): Promise<void> {
  return (async () => {
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal });
    const parser = createParser({ onEvent: (e) => on(JSON.parse(e.data) as Record<string, unknown>, nowMs()) });
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
    } catch {
      /* aborted */
    }
  })();
}

async function main(): Promise<void> {
  console.log(`opencode delta latency, direct /event vs Flow SSE (${machineLine()})`);
  const b = await startOpencodeBench();
  const abort = new AbortController();
  try {
    await api(`${b.url}/api/instances`, 'POST', { directory: b.project, id: 'bench' });
    await waitStatus(b.url, 'bench', 'running');
    const ep = b.endpoints.get('bench') as OpencodeEndpoint;
    const { id: sid } = await api<{ id: string }>(`${b.url}/api/instances/bench/sessions`, 'POST', { title: 'bench' });
    const direct = new Map<string, number>();
    const viaFlow = new Map<string, number>();
    const key = (messageId: unknown, partId: unknown, delta: unknown) => `${String(messageId)}/${String(partId)}/${String(delta)}`;
    void follow(`${ep.url}/event?directory=${encodeURIComponent(ep.directory)}`, { authorization: basicAuth(ep.password) }, abort.signal, (d, at) => {
      const p = d.properties as Record<string, unknown> | undefined;
      if (d.type === 'message.part.delta' && p?.sessionID === sid) direct.set(key(p.messageID, p.partID, p.delta), at);
    });
    let idleAfterBusy = 0;
    let busy = false;
    void follow(`${b.url}/api/sessions/${sid}/events`, {}, abort.signal, (d, at) => {
      if (d.type === 'delta') viaFlow.set(key(d.messageId, d.partId, d.delta), at);
      const status = (d.session as { status?: string } | undefined)?.status;
      if (d.type === 'session' && status === 'busy') busy = true;
      if (d.type === 'session' && status === 'idle' && busy) {
        busy = false;
        idleAfterBusy++;
      }
    });
    await new Promise((r) => setTimeout(r, 300));
    for (let t = 0; t < TURNS; t++) {
      await api(`${b.url}/api/sessions/${sid}/messages`, 'POST', { text: `[deltas:${DELTAS}:${GAP}]` });
      const deadline = Date.now() + 120_000;
      while (idleAfterBusy <= t && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    }
    const gains: number[] = [];
    for (const [k, at] of viaFlow) {
      const d = direct.get(k);
      if (d !== undefined) gains.push(at - d);
    }
    gains.sort((a, b2) => a - b2);
    console.log(`deltas: ${direct.size} direct, ${viaFlow.size} via Flow, ${gains.length} matched (${TURNS} turns of ${DELTAS} deltas ${GAP} ms apart)`);
    console.log(`latency Flow adds per delta: p50 ${fmt(percentileSorted(gains, 50), 3)} ms, p99 ${fmt(percentileSorted(gains, 99), 3)} ms, max ${fmt(gains[gains.length - 1] ?? NaN, 3)} ms`);
    await api(`${b.url}/api/instances/bench/stop`, 'POST');
    await waitStatus(b.url, 'bench', 'stopped');
  } finally {
    abort.abort();
    await b.close();
  }
}

await main();
