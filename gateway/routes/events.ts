import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { EventEnvelopeSchema, StreamIdSchema, type EventEnvelope } from '../../services/store/envelope.js';
import type { GatewayContext } from '../context.js';
import { FeedRequestSchema, startFeed, type FeedRequest } from '../streams/event-feed.js';
import { envelopeFrame } from '../streams/sse.js';
import { subscribeLive } from '../streams/live-feed.js';
import { streams } from '../openapi.js';
import { wholeNumber, zodRoute } from '../validation.js';

const StreamTypeSchema = FeedRequestSchema.shape.streamType.unwrap();

export const EventLogQuerySchema = z.object({
  from: wholeNumber('from').optional(),
  limit: wholeNumber('limit').pipe(z.number().min(1, 'limit must be at least 1').max(1000, 'limit must be at most 1000')).optional(),
  stream: StreamIdSchema.optional(),
  streamType: StreamTypeSchema.optional(),
  /** An event type (e.g. PROCESS_EXITED). */
  type: z.string().min(1).max(100).optional(),
});

export const EventLogPageSchema = z.object({
  events: z.array(EventEnvelopeSchema),
  /** Pass as `from` to get the next page. */
  next: z.number().int().nonnegative(),
  head: z.number().int().nonnegative(),
  more: z.boolean(),
  epoch: z.string(),
});
export type EventLogPage = z.infer<typeof EventLogPageSchema>;

/** `GET /api/events` (SSE). `Last-Event-ID` (header) wins over `last_event_id`, which wins over `from`. */
export const EventStreamQuerySchema = z.object({
  from: wholeNumber('from').optional(),
  last_event_id: wholeNumber('last_event_id').optional(),
  epoch: FeedRequestSchema.shape.epoch,
  streamType: FeedRequestSchema.shape.streamType,
  stream: FeedRequestSchema.shape.stream,
});
/** What an EventSource sends back when it reconnects: the `id:` of the last message it got. */
export const LastEventIdHeadersSchema = z.object({ 'last-event-id': wholeNumber('the Last-Event-ID header').optional() });

/** With an event-type filter, how many rows one page may scan before it answers with what it has. */
const TYPE_FILTER_SCAN_BUDGET = 10_000;

function readLogPage(ctx: GatewayContext, q: z.infer<typeof EventLogQuerySchema>): EventLogPage {
  const { log } = ctx.deps;
  const head = log.headPosition();
  const limit = q.limit ?? 100;
  const filter = q.stream || q.streamType ? { streamId: q.stream, streamType: q.streamType } : undefined;
  let cursor = q.from ?? 0;
  const events: EventEnvelope[] = [];
  if (!q.type) {
    events.push(...log.readAll(cursor, limit, filter));
    cursor = events.at(-1)?.position ?? Math.max(cursor, head);
  } else {
    // The store filters by stream in SQL but not by event type: scan forward until the page is
    // full, the log ends, or the budget is spent; `next` says where the scan stopped.
    let scanned = 0;
    while (events.length < limit && scanned < TYPE_FILTER_SCAN_BUDGET) {
      const batch = log.readAll(cursor, 1000, filter);
      if (batch.length === 0) {
        cursor = Math.max(cursor, head);
        break;
      }
      for (const e of batch) {
        cursor = e.position;
        scanned++;
        if (e.type === q.type) events.push(e);
        if (events.length === limit) break;
      }
    }
  }
  return { events, next: cursor, head, more: cursor < head, epoch: log.epoch };
}

export async function eventRoutes(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  app.route({
    method: 'GET',
    url: '/api/events/log',
    ...zodRoute({ query: EventLogQuerySchema, response: EventLogPageSchema }, ({ query }) => readLogPage(ctx, query)),
  });

  app.route({
    method: 'GET',
    url: '/api/events',
    ...streams(zodRoute({ query: EventStreamQuerySchema, headers: LastEventIdHeadersSchema }, ({ query, headers }, request, reply) => {
      const feedRequest: FeedRequest = {
        from: headers['last-event-id'] ?? query.last_event_id ?? query.from,
        epoch: query.epoch,
        streamType: query.streamType,
        stream: query.stream,
      };
      const conn = reply.sse();
      const feed = startFeed(ctx.deps.log, feedRequest, {
        get closed() {
          return conn.closed;
        },
        hello: (h) => void conn.send({ event: 'hello', data: JSON.stringify(h) }),
        reset: (r) => void conn.send({ event: 'reset', data: JSON.stringify(r) }),
        // Events carry no `event:` name, so they reach a browser EventSource's `onmessage`
        // whatever their type; the type is in the envelope. `id:` is the position, which the
        // browser sends back as Last-Event-ID when it reconnects.
        event: (e) => conn.sendFrame(envelopeFrame(e)),
        hasRoom: () => conn.hasRoom(),
        room: () => conn.room(),
        fail: (err) => {
          request.log.warn({ err }, 'event stream ended by the store');
          conn.end();
        },
      });
      // Live messages (the task board's) have no position: `event: live`, no `id:`, so they
      // never move the client's Last-Event-ID.
      const stopLive = subscribeLive(ctx.deps.live, feedRequest, (item) => void conn.send({ event: 'live', data: JSON.stringify(item) }));
      conn.onClose(() => {
        feed.stop();
        stopLive();
      });
      return reply;
    })),
  });
}
