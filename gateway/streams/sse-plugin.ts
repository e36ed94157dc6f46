import type { FastifyInstance, FastifyReply } from 'fastify';
import fp from 'fastify-plugin';
import type { ClientRegistry } from './clients.js';
import { SseConnection } from './sse.js';

declare module 'fastify' {
  interface FastifyReply {
    /**
     * Takes the response over as a Server-Sent Events stream: headers sent, heartbeats on, the
     * bytes queued for the client counted against the cap (past it the client is cut off), the
     * stream counted among the gateway's clients, and ended when the gateway closes. Clean up
     * what feeds it in `onClose`.
     */
    sse(): SseConnection;
  }
}

export interface SsePluginOptions {
  clients: ClientRegistry;
  /** Bytes queued for one client past which it is cut off. */
  capBytes: number;
  /** Interval of `: ping` comments; 0 turns them off. */
  heartbeatMs: number;
}

async function flowSse(app: FastifyInstance, opts: SsePluginOptions): Promise<void> {
  app.decorateReply('sse', function (this: FastifyReply): SseConnection {
    const conn = SseConnection.open(this, { capBytes: opts.capBytes, heartbeatMs: opts.heartbeatMs }, () => opts.clients.countSlowCutOff());
    conn.onClose(opts.clients.add('sse', () => conn.end()));
    return conn;
  });
  // A hijacked response never finishes on its own: without this, close() would wait for clients that never leave.
  app.addHook('preClose', (done) => {
    opts.clients.endAll('sse');
    done();
  });
}

/** `reply.sse()` for every route, the one way the gateway writes an event stream. */
export const flowSsePlugin = fp(flowSse, { fastify: '5.x', name: 'flow-sse' });
