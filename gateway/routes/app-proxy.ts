import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { request as httpRequest } from 'node:http';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { z } from 'zod';
import { BackendNameSchema, backendStreamId, type BackendContext } from '../../actors/backend-child/index.js';
import { SESSION_COOKIE } from '../auth/guard.js';
import { TOKEN_PREFIX } from '../../services/auth/tokens.js';
import { isWebSocketUpgrade } from '../auth/origin.js';
import type { GatewayContext } from '../context.js';
import { ApiError } from '../errors.js';
import { parsePart } from '../validation.js';
import { forwardedTarget } from './app-proxy-target.js';

/**
 * `/app/<backend>/api/*` → the backend child's `config.port` on 127.0.0.1, with the
 * `/app/<backend>/api` prefix stripped (seed 002's /app/api, one per backend). The target the
 * backend sees is the rest of the one the client sent, byte for byte (app-proxy-target.ts).
 * Bodies are piped both ways as bytes: nothing is parsed, decoded or buffered whole, so a
 * 1 MiB upload or an endless SSE stream passes through as the backend wrote it. WebSocket
 * upgrades are relayed message by message, up to the proxied-message cap (16 MiB by default),
 * not the gateway's own 64 KiB. Flow's own credentials (its bearer token, its cookie) are
 * removed before a request reaches the backend.
 */
export const ProxyParamsSchema = z.object({
  backend: BackendNameSchema,
  /** The router's decoded view of the path after the prefix; what is forwarded comes from the raw target. */
  '*': z.string().optional(),
});

/** Connection-level headers: they describe one hop, never the next (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

const WS_HANDSHAKE = new Set(['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'sec-websocket-accept']);

interface Target {
  name: string;
  port: number;
  /** Path and query as the backend should see them. */
  path: string;
}

function resolveTarget(ctx: GatewayContext, request: FastifyRequest): Target {
  const params = parsePart(ProxyParamsSchema, request.params, 'params');
  const path = forwardedTarget(request.url, params.backend);
  const row = ctx.deps.readModel.getActor(backendStreamId(params.backend));
  if (!row || row.status === 'removed') throw ApiError.notFound(`no backend named ${params.backend}`);
  const c = row.snapshot.context as BackendContext;
  const port = c.config?.port ?? null;
  if (port === null) throw ApiError.badGateway(`backend ${params.backend} has no port; add it with --port so /app/${params.backend}/api can reach it`);
  if (row.status !== 'running') throw ApiError.badGateway(`backend ${params.backend} is ${row.status}, not running; start it with "f backend start ${params.backend}"`);
  return { name: params.backend, port, path };
}

/** Drops Flow's bearer token and session cookie; the backend's own credentials pass. */
function withoutFlowCredentials(headers: OutgoingHttpHeaders): void {
  const auth = headers.authorization;
  if (typeof auth === 'string' && new RegExp(`^Bearer\\s+${TOKEN_PREFIX}`, 'i').test(auth)) delete headers.authorization;
  const cookie = headers.cookie;
  if (typeof cookie === 'string') {
    const kept = cookie
      .split(';')
      .map((c) => c.trim())
      .filter((c) => c && !c.startsWith(`${SESSION_COOKIE}=`));
    if (kept.length) headers.cookie = kept.join('; ');
    else delete headers.cookie;
  }
}

function requestHeaders(request: FastifyRequest, target: Target, drop: Set<string>): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || drop.has(name)) continue;
    out[name] = value;
  }
  withoutFlowCredentials(out);
  out.host = `127.0.0.1:${target.port}`;
  const prior = request.headers['x-forwarded-for'];
  out['x-forwarded-for'] = prior ? `${String(prior)}, ${request.ip}` : request.ip;
  out['x-forwarded-host'] = request.headers.host ?? '';
  out['x-forwarded-proto'] = request.protocol;
  out['x-forwarded-prefix'] = `/app/${target.name}/api`;
  return out;
}

function responseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

function proxyHttp(ctx: GatewayContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const target = resolveTarget(ctx, request);
  return new Promise((resolve, reject) => {
    const upstream = httpRequest({ host: '127.0.0.1', port: target.port, method: request.method, path: target.path, headers: requestHeaders(request, target, new Set()) });
    let answered = false;
    upstream.on('response', (res) => {
      answered = true;
      reply.code(res.statusCode ?? 502).headers(responseHeaders(res.headers));
      resolve(reply.send(res));
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (answered) return; // Mid-body: Fastify's stream handling ends the client's response.
      reject(ApiError.badGateway(`backend ${target.name} did not answer on 127.0.0.1:${target.port} (${err.code ?? err.message})`));
    });
    // A client that goes away mid-request or mid-response takes the upstream request with it.
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) upstream.destroy();
    });
    request.raw.pipe(upstream);
  });
}

/** The upstream socket opened before the client's 101, and what it sent before they were joined. */
const pending = new WeakMap<IncomingMessage, { upstream: WebSocket; early: [RawData, boolean][] }>();

/**
 * Opens the backend's WebSocket first, in preHandler: if the backend is down the client gets a
 * 502 (and its socket is destroyed) instead of an accepted upgrade that closes at once.
 */
async function connectUpstream(ctx: GatewayContext, request: FastifyRequest): Promise<void> {
  if (!isWebSocketUpgrade(request)) return;
  const target = resolveTarget(ctx, request);
  const protocols = (request.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const headers = requestHeaders(request, target, new Set([...WS_HANDSHAKE, 'sec-websocket-protocol', 'host']));
  delete headers.host;
  const upstream = new WebSocket(`ws://127.0.0.1:${target.port}/`, protocols, {
    headers: headers as Record<string, string>,
    perMessageDeflate: false,
    maxPayload: ctx.options.proxyWsMaxPayloadBytes,
    // The URL parser would resolve dot segments and re-encode the path: the request line
    // carries the target as received instead (node:http writes `path` when the request ends).
    finishRequest: (req) => {
      req.path = target.path;
      req.end();
    },
  });
  const early: [RawData, boolean][] = [];
  upstream.on('message', (data, isBinary) => early.push([data, isBinary]));
  await new Promise<void>((resolve, reject) => {
    upstream.once('open', () => resolve());
    upstream.once('unexpected-response', (_req, res) => {
      upstream.terminate();
      reject(ApiError.badGateway(`backend ${target.name} refused the WebSocket with ${res.statusCode}`));
    });
    upstream.once('error', (err: NodeJS.ErrnoException) => reject(ApiError.badGateway(`backend ${target.name} did not answer on 127.0.0.1:${target.port} (${err.code ?? err.message})`)));
  });
  pending.set(request.raw, { upstream, early });
}

/** Close codes 1005/1006 describe a missing close frame and may not be sent; pass a normal close instead. */
function sendableCode(code: number): number {
  return code === 1005 || code === 1006 || code < 1000 || code >= 5000 ? 1000 : code;
}

function linkSockets(ctx: GatewayContext, client: WebSocket, request: FastifyRequest): void {
  const link = pending.get(request.raw);
  pending.delete(request.raw);
  if (!link) {
    client.close(1011, 'backend connection missing');
    return;
  }
  const { upstream, early } = link;
  // A side that stops reading is cut off rather than buffered without bound: past the client
  // budget plus one message of the largest size relayed.
  const cap = ctx.options.maxClientBufferBytes + ctx.options.proxyWsMaxPayloadBytes;
  upstream.removeAllListeners('message');
  const forward = (to: WebSocket) => (data: RawData, isBinary: boolean) => {
    if (to.readyState !== WebSocket.OPEN) return;
    if (to.bufferedAmount > cap) {
      client.terminate();
      upstream.terminate();
      return;
    }
    to.send(data, { binary: isBinary });
  };
  for (const [data, isBinary] of early) forward(client)(data, isBinary);
  upstream.on('message', forward(client));
  client.on('message', forward(upstream));
  client.on('close', (code, reason) => {
    if (upstream.readyState === WebSocket.OPEN) upstream.close(sendableCode(code), reason);
    else upstream.terminate();
  });
  upstream.on('close', (code, reason) => {
    if (client.readyState === WebSocket.OPEN) client.close(sendableCode(code), reason);
  });
  upstream.on('error', () => client.terminate());
  client.on('error', () => upstream.terminate());
  const unregister = ctx.clients.add('ws', () => client.close(1001, 'server shutting down'));
  client.on('close', unregister);
  if (upstream.readyState !== WebSocket.OPEN) client.close(1011, 'backend closed');
}

/**
 * Proxied upgrades are completed by a WebSocket server of the proxy's own, whose message cap is
 * the proxied one; every other upgrade (the gateway's /api/ws) stays with the shared server and
 * its 64 KiB. ws fixes a socket's cap when the upgrade completes and @fastify/websocket
 * completes every upgrade with `websocketServer.handleUpgrade`, so that is where they part:
 * a request whose backend socket connectUpstream opened is the proxy's.
 */
function completeProxiedUpgradesWithTheirOwnCap(app: FastifyInstance, maxPayload: number): void {
  const shared = app.websocketServer;
  const proxied = new WebSocketServer({ noServer: true, maxPayload, perMessageDeflate: false, clientTracking: false });
  const completeShared = shared.handleUpgrade.bind(shared);
  shared.handleUpgrade = (req, socket, head, done) => {
    if (pending.has(req)) proxied.handleUpgrade(req, socket, head, (ws) => done(ws, req));
    else completeShared(req, socket, head, done);
  };
}

export async function appProxyRoutes(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  completeProxiedUpgradesWithTheirOwnCap(app, ctx.options.proxyWsMaxPayloadBytes);
  // The bodies are the backend's business: no parser reads them (so no body limit either);
  // the raw request stream is piped on untouched.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));

  const zod = { params: ProxyParamsSchema };
  for (const url of ['/app/:backend/api', '/app/:backend/api/*']) {
    app.route({
      method: 'GET',
      url,
      config: { zod },
      preHandler: async (request) => connectUpstream(ctx, request),
      handler: (request, reply) => proxyHttp(ctx, request, reply),
      wsHandler: (socket, request) => linkSockets(ctx, socket, request),
    });
    app.route({
      method: ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      url,
      config: { zod },
      handler: (request, reply) => proxyHttp(ctx, request, reply),
    });
  }
}
