import { createParser } from 'eventsource-parser';
import { basicAuth, type OpencodeEndpoint } from './client.js';
import { WireEventSchema } from './wire.js';

export type WireEvent = { type: string; properties: Record<string, unknown> };

export interface EventStreamHandlers {
  /** Called after each (re)connect, once opencode said `server.connected`: re-sync state via REST now. */
  onConnected(attempt: number): void;
  onEvent(event: WireEvent): void;
  onDisconnected?(reason: string): void;
}

/**
 * Follows an instance's `/event` stream and reconnects with backoff (250 ms doubling to 5 s).
 * opencode's SSE has no ids and no replay (§0.6): whatever happened while disconnected is
 * recovered by the re-sync `onConnected` triggers, not by the stream.
 */
export class OpencodeEventStream {
  private readonly abort = new AbortController();
  private closed = false;
  private attempt = 0;
  readonly done: Promise<void>;

  constructor(
    private readonly endpoint: OpencodeEndpoint,
    private readonly handlers: EventStreamHandlers,
  ) {
    this.done = this.loop();
  }

  close(): void {
    this.closed = true;
    this.abort.abort();
  }

  private async loop(): Promise<void> {
    let backoff = 250;
    while (!this.closed) {
      const before = this.attempt;
      const reason = await this.once().catch((err: unknown) => (err instanceof Error ? err.message : String(err)));
      if (this.closed) return;
      this.handlers.onDisconnected?.(reason);
      // A stream that worked and then dropped is retried quickly; one that keeps failing, slower.
      if (this.attempt > before) backoff = 250;
      await new Promise((r) => setTimeout(r, backoff).unref());
      backoff = Math.min(backoff * 2, 5000);
    }
  }

  /** One connection; resolves with why it ended. */
  private async once(): Promise<string> {
    const u = new URL('/event', this.endpoint.url);
    u.searchParams.set('directory', this.endpoint.directory);
    const res = await fetch(u, {
      headers: { authorization: basicAuth(this.endpoint.password), accept: 'text/event-stream' },
      signal: this.abort.signal,
    });
    if (!res.ok || !res.body) return `opencode answered ${res.status} on /event`;
    if (!(res.headers.get('content-type') ?? '').includes('text/event-stream')) return 'opencode did not answer /event with an event stream';
    let connected = false;
    const parser = createParser({
      onEvent: (msg) => {
        let raw: unknown;
        try {
          raw = JSON.parse(msg.data);
        } catch {
          return;
        }
        const parsed = WireEventSchema.safeParse(raw);
        if (!parsed.success) return;
        const event = parsed.data;
        if (event.type === 'server.connected' && !connected) {
          connected = true;
          this.handlers.onConnected(this.attempt++);
          return;
        }
        if (event.type === 'server.heartbeat') return;
        this.handlers.onEvent(event);
      },
    });
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      if (this.closed) break;
      parser.feed(decoder.decode(chunk, { stream: true }));
    }
    return connected ? 'connected-then-ended' : 'the event stream ended before server.connected';
  }
}
