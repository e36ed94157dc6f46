import { afterAll, beforeAll, expect, it } from 'vitest';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { appendEvents, openTempStore, startGateway, until, type RunningGateway, type StoreFixture } from '../gateway/harness.js';

/**
 * 1,000 SSE clients at once, each on its own socket, all receive every event, in order. The
 * clients are lean on purpose (raw node:http, `id:` lines counted by hand): a parser per client
 * would measure the test, not the gateway.
 */
const CLIENTS = 1000;
const EVENTS = 40;

interface LeanClient {
  req: ClientRequest;
  ids: number[];
  hello: boolean;
  rest: string;
}

function connect(url: string): Promise<LeanClient> {
  return new Promise((resolve, reject) => {
    const c: LeanClient = { req: null as unknown as ClientRequest, ids: [], hello: false, rest: '' };
    c.req = httpRequest(url, { agent: false, headers: { accept: 'text/event-stream' } }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const text = c.rest + chunk;
        const lines = text.split('\n');
        c.rest = lines.pop() ?? '';
        for (const line of lines) {
          if (line.startsWith('id: ')) c.ids.push(Number(line.slice(4)));
          else if (line === 'event: hello') c.hello = true;
        }
      });
      resolve(c);
    });
    c.req.on('error', reject);
    c.req.end();
  });
}

let fx: StoreFixture;
let gw: RunningGateway;
const clients: LeanClient[] = [];

beforeAll(async () => {
  fx = openTempStore();
  gw = await startGateway({ log: fx.store, options: { heartbeatMs: 0 } });
});

afterAll(async () => {
  for (const c of clients) c.req.destroy();
  await gw?.close();
  fx?.cleanup();
});

it(`${CLIENTS} concurrent SSE clients all receive every one of ${EVENTS} events, in order`, async () => {
  // Connected in batches: a thousand SYNs at once would overflow the listen backlog, which tests the kernel.
  for (let i = 0; i < CLIENTS; i += 100) clients.push(...(await Promise.all(Array.from({ length: 100 }, () => connect(`${gw.url}/api/events`)))));
  await until('every hello', () => clients.filter((c) => c.hello).length, (n) => n === CLIENTS, 60_000);
  expect((await (await fetch(`${gw.url}/api/health`)).json()) as { clients: { sse: number } }).toMatchObject({ clients: { sse: CLIENTS } });

  const positions: number[] = [];
  for (let i = 0; i < EVENTS; i++) {
    positions.push(...appendEvents(fx.store, `backend-child:e${i % 4}`, 1).map((e) => e.position));
    // A little spacing, so the events arrive as a live stream and not as one burst.
    if (i % 10 === 9) await new Promise((r) => setTimeout(r, 5));
  }
  await until('every client to have every event', () => clients.filter((c) => c.ids.length >= EVENTS).length, (n) => n === CLIENTS, 60_000);
  const wrong = clients.filter((c) => c.ids.join() !== positions.join());
  expect(wrong.length).toBe(0);
  const health = (await (await fetch(`${gw.url}/api/health`)).json()) as { clients: { sse: number; cutOffSlow: number } };
  expect(health.clients).toMatchObject({ sse: CLIENTS, cutOffSlow: 0 });
});
