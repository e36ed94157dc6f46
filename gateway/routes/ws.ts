import type { FastifyInstance } from 'fastify';
import type { RawData } from 'ws';
import { z } from 'zod';
import { errorBody, formatZodError } from '../errors.js';
import type { GatewayContext } from '../context.js';
import { FeedRequestSchema, startFeed, type Feed } from '../streams/event-feed.js';
import { WS_CLOSE, WsConnection } from '../streams/ws.js';
import { subscribeLive } from '../streams/live-feed.js';

/** `{"type":"subscribe","from":N,"epoch"?,"streamType"?,"stream"?}` replaces any earlier subscription. */
export const WsSubscribeSchema = FeedRequestSchema.extend({ type: z.literal('subscribe') }).strict();
export const WsUnsubscribeSchema = z.object({ type: z.literal('unsubscribe') }).strict();
export const WsClientMessageSchema = z.discriminatedUnion('type', [WsSubscribeSchema, WsUnsubscribeSchema]);
export type WsClientMessage = z.infer<typeof WsClientMessageSchema>;

function parseClientMessage(data: RawData, isBinary: boolean): { ok: true; message: WsClientMessage } | { ok: false; error: string } {
  if (isBinary) return { ok: false, error: 'messages are JSON text, not binary' };
  let json: unknown;
  try {
    json = JSON.parse(data.toString());
  } catch {
    return { ok: false, error: 'a message must be JSON such as {"type":"subscribe","from":0}' };
  }
  const parsed = WsClientMessageSchema.safeParse(json);
  return parsed.success ? { ok: true, message: parsed.data } : { ok: false, error: formatZodError(parsed.error, 'message') };
}

/**
 * `GET /api/ws`. Authentication, when it comes, belongs in an onRequest hook: by the time this
 * handler runs the 101 has been sent. The message listener is attached before anything else
 * (synchronously), because @fastify/websocket drops messages that arrive before it exists.
 */
export async function wsRoutes(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  app.route({
    method: 'GET',
    url: '/api/ws',
    // A plain GET (no Upgrade header) is told what this route is, not given an empty 404.
    handler: (_request, reply) => reply.code(426).header('upgrade', 'websocket').send(errorBody('invalid', 'GET /api/ws is a WebSocket: connect with an Upgrade: websocket request')),
    wsHandler: (socket, request) => {
      const conn = new WsConnection(socket, { capBytes: ctx.options.maxClientBufferBytes, heartbeatMs: ctx.options.heartbeatMs }, () =>
        ctx.clients.countSlowCutOff(),
      );
      const unregister = ctx.clients.add('ws', () => conn.close(WS_CLOSE.goingAway.code, WS_CLOSE.goingAway.reason));
      let feed: Feed | null = null;
      let stopLive: (() => void) | null = null;

      socket.on('message', (data, isBinary) => {
        const parsed = parseClientMessage(data, isBinary);
        if (!parsed.ok) {
          conn.send({ type: 'error', code: 'invalid', message: parsed.error });
          return;
        }
        feed?.stop();
        feed = null;
        stopLive?.();
        stopLive = null;
        if (parsed.message.type === 'unsubscribe') return;
        const { type: _type, ...feedRequest } = parsed.message;
        // Live messages (the task board's) carry no position and are not replayed.
        stopLive = subscribeLive(ctx.deps.live, feedRequest, (item) => void conn.send({ type: 'live', ...item }));
        feed = startFeed(ctx.deps.log, feedRequest, {
          get closed() {
            return conn.closed;
          },
          hello: (h) => void conn.send({ type: 'hello', ...h }),
          reset: (r) => void conn.send({ type: 'reset', ...r }),
          // The envelope is nested, not spread: its own `type` (the event type) would clash with the message type.
          event: (e) => conn.sendEvent(e),
          hasRoom: () => conn.hasRoom(),
          room: () => conn.room(),
          fail: (err) => {
            request.log.warn({ err }, 'event stream ended by the store');
            conn.close(1011, 'event log unavailable');
          },
        });
      });

      socket.on('close', () => {
        feed?.stop();
        stopLive?.();
        unregister();
      });
    },
  });
}
