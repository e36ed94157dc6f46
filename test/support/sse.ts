import { request, type ClientRequest } from 'node:http';
import { createParser } from 'eventsource-parser';
import type { EventEnvelope } from '../../services/store/envelope.js';

/** An SSE reader of /api/events that keeps every envelope it got, and reconnects with Last-Event-ID when asked. */
export class EventFeed {
  readonly events: EventEnvelope[] = [];
  readonly named: { event: string; data: string }[] = [];
  lastId: string | undefined;
  private req: ClientRequest | null = null;

  constructor(private base: string) {}

  connect(base = this.base): Promise<void> {
    this.base = base;
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (this.lastId) headers['last-event-id'] = this.lastId;
      const req = request(`${base}/api/events`, { headers }, (res) => {
        if (res.statusCode !== 200) return reject(new Error(`SSE answered ${res.statusCode}`));
        const parser = createParser({
          onEvent: (m) => {
            if (m.event === undefined || m.event === 'message') {
              this.events.push(JSON.parse(m.data) as EventEnvelope);
              if (m.id) this.lastId = m.id;
            } else this.named.push({ event: m.event, data: m.data });
          },
        });
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => parser.feed(chunk));
        res.on('error', () => {});
        resolve();
      });
      req.on('error', (err) => (this.req === req ? undefined : reject(err)));
      req.end();
      this.req = req;
    });
  }

  close(): void {
    this.req?.destroy();
    this.req = null;
  }
}

/** Each stream's events in arrival order must be its versions 1..n, each once. */
export function streamOrderProblems(events: readonly EventEnvelope[]): string[] {
  const problems: string[] = [];
  const last = new Map<string, number>();
  const ids = new Set<string>();
  for (const e of events) {
    if (ids.has(e.id)) problems.push(`event ${e.id} (${e.streamId} v${e.version}) arrived twice`);
    ids.add(e.id);
    const prev = last.get(e.streamId) ?? 0;
    if (e.version !== prev + 1) problems.push(`${e.streamId}: v${e.version} arrived after v${prev}`);
    last.set(e.streamId, Math.max(prev, e.version));
  }
  return problems;
}
