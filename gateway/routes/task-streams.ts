import type { FastifyInstance } from 'fastify';
import type { RawData } from 'ws';
import { z } from 'zod';
import type { GatewayContext } from '../context.js';
import { errorBody } from '../errors.js';
import { streams } from '../openapi.js';
import { subscribeLive, type LiveItem } from '../streams/live-feed.js';
import { WS_CLOSE, WsConnection } from '../streams/ws.js';
import { zodRoute } from '../validation.js';

/**
 * The board's messages in seed 003's own shapes, for a flow-server client (its EventSource and
 * WebSocket): bare JSON, no envelope, no `event:` name, no position.
 *   {"type":"update","event":"add"|"change","sessionId":…,"file":…}   a task file
 *   {"type":"metadata-update"}                                       session logs changed
 *   {"type":"feature-update","event":"add"|"change"|"delete","featureId":…}   (Flow's features)
 * The seed knows only `add` and `change` for a file: a deleted task file is sent as a `change`,
 * so a seed client reloads the session and sees it gone. Flow's own streams (/api/events,
 * /api/ws) keep their envelopes and `delete`.
 */
export const SeedTaskUpdateSchema = z.object({ type: z.literal('update'), event: z.enum(['add', 'change']), sessionId: z.string(), file: z.string() });
export const SeedMetadataUpdateSchema = z.object({ type: z.literal('metadata-update') });
export const SeedFeatureUpdateSchema = z.object({ type: z.literal('feature-update'), event: z.enum(['add', 'change', 'delete']), featureId: z.string() });
export const SeedBoardMessageSchema = z.discriminatedUnion('type', [SeedTaskUpdateSchema, SeedMetadataUpdateSchema, SeedFeatureUpdateSchema]);
export type SeedBoardMessage = z.infer<typeof SeedBoardMessageSchema>;

/** What a seed client sends to keep its socket open, and what it gets back. */
export const SEED_PONG = JSON.stringify({ type: 'pong' });

/** A board live message in the seed's shape, or null for one the seed has no shape for (the theme). */
export function seedMessage(item: LiveItem): SeedBoardMessage | null {
  const d = item.data as Record<string, unknown> | null;
  if (!d || typeof d !== 'object') return null;
  if (d.type === 'update' && typeof d.sessionId === 'string' && typeof d.file === 'string') {
    return { type: 'update', event: d.event === 'add' ? 'add' : 'change', sessionId: d.sessionId, file: d.file };
  }
  if (d.type === 'metadata-update') return { type: 'metadata-update' };
  if (d.type === 'feature-update' && typeof d.featureId === 'string' && (d.event === 'add' || d.event === 'change' || d.event === 'delete')) {
    return { type: 'feature-update', event: d.event, featureId: d.featureId };
  }
  return null;
}

// One live item reaches every connected client: its text is built once, not once per client.
const texts = new WeakMap<LiveItem, string | null>();
function seedText(item: LiveItem): string | null {
  let text = texts.get(item);
  if (text === undefined) {
    const msg = seedMessage(item);
    text = msg ? JSON.stringify(msg) : null;
    texts.set(item, text);
  }
  return text;
}

/** `ping` as the seed's client sends it: the bare word, or `{"type":"ping"}`. */
function isPing(data: RawData, isBinary: boolean): boolean {
  if (isBinary) return false;
  const text = data.toString().trim();
  if (text === 'ping') return true;
  try {
    return (JSON.parse(text) as { type?: unknown } | null)?.type === 'ping';
  } catch {
    return false;
  }
}

const BOARD = { streamType: 'taskboard' } as const;

export async function taskStreamRoutes(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  app.route({
    method: 'GET',
    url: '/api/tasks/events',
    ...streams(zodRoute({}, (_input, _request, reply) => {
      const conn = reply.sse();
      const stop = subscribeLive(ctx.deps.live, BOARD, (item) => {
        const text = seedText(item);
        if (text !== null) conn.send({ data: text });
      });
      conn.onClose(stop);
      return reply;
    })),
  });

  app.route({
    method: 'GET',
    url: '/api/tasks/ws',
    handler: (_request, reply) => reply.code(426).header('upgrade', 'websocket').send(errorBody('invalid', 'GET /api/tasks/ws is a WebSocket: connect with an Upgrade: websocket request')),
    wsHandler: (socket) => {
      const conn = new WsConnection(socket, { capBytes: ctx.options.maxClientBufferBytes, heartbeatMs: ctx.options.heartbeatMs }, () => ctx.clients.countSlowCutOff());
      const unregister = ctx.clients.add('ws', () => conn.close(WS_CLOSE.goingAway.code, WS_CLOSE.goingAway.reason));
      // Attached first (synchronously): @fastify/websocket drops messages that arrive before a listener.
      socket.on('message', (data, isBinary) => {
        // The seed's server answers its client's pings and ignores anything else it is sent.
        if (isPing(data, isBinary)) conn.sendText(SEED_PONG);
      });
      const stop = subscribeLive(ctx.deps.live, BOARD, (item) => {
        const text = seedText(item);
        if (text !== null) conn.sendText(text);
      });
      socket.on('close', () => {
        stop();
        unregister();
      });
    },
  });
}
