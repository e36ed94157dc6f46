import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { needsAttention } from '../../../actors/opencode-instance/index.js';
import { ATTENTION_PATTERN } from '../../../services/opencode/feed.js';
import { SessionViewSchema, sessionView, type SessionView } from '../../../services/opencode/views.js';
import type { GatewayContext } from '../../context.js';
import { streams } from '../../openapi.js';
import { queryFlag, zodRoute } from '../../validation.js';
import { OpencodeLookup } from './lookup.js';

/**
 * GET /api/attention: every session, across all instances, that waits on a permission or a
 * question — the inbox users of agent orchestrators ask for most (reference §8.9). With
 * `?follow=1` it stays open as SSE: the list first, then an `attention` event on each change.
 */
export const AttentionQuerySchema = z.object({ follow: queryFlag('follow').optional() });
export const AttentionSchema = z.object({ sessions: z.array(SessionViewSchema) });

export async function attentionRoutes(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  const lookup = new OpencodeLookup(ctx.deps.readModel);
  const waiting = (): SessionView[] =>
    lookup
      .instances()
      .flatMap((r) => Object.values(r.context.sessions).filter(needsAttention).map((s) => sessionView(r.context.id, s)))
      .sort((a, b) => a.updatedAt.localeCompare(b.updatedAt));

  app.route({
    method: 'GET',
    url: '/api/attention',
    ...streams(zodRoute({ query: AttentionQuerySchema, response: AttentionSchema }, ({ query }, _request, reply) => {
      if (!query.follow) return { sessions: waiting() };
      const conn = reply.sse();
      conn.send({ event: 'sessions', data: JSON.stringify({ sessions: waiting() }) });
      const unsubscribe = ctx.deps.live.subscribe(ATTENTION_PATTERN, (m) => {
        if (!conn.send({ event: 'attention', data: JSON.stringify(m.data) })) unsubscribe();
      });
      conn.onClose(unsubscribe);
      return reply;
    })),
  });
}
