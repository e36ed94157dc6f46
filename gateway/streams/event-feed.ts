import { z } from 'zod';
import { StreamIdSchema, type EventEnvelope, type EventFilter } from '../../services/store/envelope.js';
import type { Subscription } from '../../services/store/event-store.js';
import type { EventLog } from '../../services/store/read-model.js';

/**
 * What a streaming client asks for, over SSE or WebSocket alike: where to resume (a position of
 * the host-global log), which log it was reading (the epoch), and which streams.
 */
export const FeedRequestSchema = z.object({
  /** Resume after this position; absent = only events from now on. 0 = the whole log. */
  from: z.number().int().nonnegative().optional(),
  /** The epoch the client's `from` belongs to; another epoch means its history is not ours. */
  epoch: z.string().min(1).optional(),
  streamType: z.string().regex(/^[a-z][a-z0-9-]*$/, 'a stream type is lower-case letters, digits and "-"').optional(),
  stream: StreamIdSchema.optional(),
});
export type FeedRequest = z.infer<typeof FeedRequestSchema>;

export interface FeedHello {
  epoch: string;
  head: number;
  /** The position replay starts after (0 after a reset). */
  from: number;
}

export interface FeedReset {
  epoch: string;
  previousEpoch: string | null;
  head: number;
  reason: 'epoch-changed' | 'ahead-of-log';
}

/** A transport (SSE response, WebSocket) as the feed sees it. */
export interface FeedSink {
  readonly closed: boolean;
  hello(h: FeedHello): void;
  reset(r: FeedReset): void;
  /** Queues one event; false = the client is gone or was just cut off, stop sending. */
  event(e: EventEnvelope): boolean;
  /** True while replay may keep writing without waiting. */
  hasRoom(): boolean;
  room(): Promise<void>;
  /** The feed cannot go on (the store closed under it). */
  fail(err: unknown): void;
}

export interface Feed {
  stop(): void;
}

/** Replay reads the log in pages and waits for the client between them: history never piles up in memory. */
const REPLAY_PAGE = 200;

export function feedFilter(req: FeedRequest): EventFilter | undefined {
  if (!req.streamType && !req.stream) return undefined;
  return { streamType: req.streamType, streamId: req.stream };
}

/**
 * Where a client starts. A client that names another epoch, or a position past our head (it read
 * a longer log than this one), would otherwise get silent gaps; it gets an explicit reset and the
 * log from the start instead (Centrifugo's epoch, Mercure's Last-Event-ID check).
 */
export function resolveStart(log: EventLog, req: FeedRequest): { hello: FeedHello; reset: FeedReset | null } {
  const head = log.headPosition();
  const epoch = log.epoch;
  let reset: FeedReset | null = null;
  if (req.epoch !== undefined && req.epoch !== epoch) {
    reset = { epoch, previousEpoch: req.epoch, head, reason: 'epoch-changed' };
  } else if (req.from !== undefined && req.from > head) {
    reset = { epoch, previousEpoch: req.epoch ?? null, head, reason: 'ahead-of-log' };
  }
  const from = reset ? 0 : (req.from ?? head);
  return { hello: { epoch, head, from }, reset };
}

/**
 * Sends a client every event after its position, exactly once and in order: history first,
 * read page by page at the pace the client drains it, then the store's catch-up subscription
 * from the last position sent (the store guarantees no gap and no duplicate at that seam).
 * Live events are written as they come; a client that cannot keep up hits its buffer cap and
 * is cut off by the sink, never buffered without bound.
 */
export function startFeed(log: EventLog, req: FeedRequest, sink: FeedSink): Feed {
  const filter = feedFilter(req);
  const { hello, reset } = resolveStart(log, req);
  let stopped = false;
  let sub: Subscription | null = null;

  const stop = (): void => {
    stopped = true;
    sub?.close();
    sub = null;
  };

  const deliver = (e: EventEnvelope): void => {
    if (stopped) return;
    if (!sink.event(e)) stop();
  };

  sink.hello(hello);
  if (reset) sink.reset(reset);

  const replayThenLive = async (): Promise<void> => {
    let cursor = hello.from;
    for (;;) {
      if (stopped || sink.closed) return;
      // Head first: if the filtered page is empty, nothing matching exists up to `head`, so
      // the live subscription need not rescan those rows.
      const head = log.headPosition();
      const page = log.readAll(cursor, REPLAY_PAGE, filter);
      if (page.length === 0) {
        cursor = Math.max(cursor, head);
        break;
      }
      for (const e of page) {
        if (stopped || sink.closed) return;
        if (!sink.event(e)) return stop();
        cursor = e.position;
        if (!sink.hasRoom()) await sink.room();
      }
    }
    if (stopped || sink.closed) return;
    // No await between the empty read above and this call: nothing can slip in between, and
    // the subscription's own catch-up covers commits by other processes.
    const s = log.subscribe({ from: cursor, filter }, deliver);
    if (stopped) s.close();
    else sub = s;
  };

  replayThenLive().catch((err: unknown) => {
    stop();
    sink.fail(err);
  });

  return { stop };
}
