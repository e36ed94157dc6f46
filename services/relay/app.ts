import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { z } from 'zod';
import { RelayTierSchema, RelayUsernameSchema, type RelayTier } from '../../actors/tunnel/index.js';
import { isHttp1, judgeHost, NOT_HTTP1, refusalMessage } from '../auth/allowed-hosts.js';
import { systemClock, type Clock } from '../host/effects.js';
import { clientAddress, clientKey, trustedProxies, type TrustedProxies } from '../net/client-address.js';
import { directResolver, type UpstreamResolver } from '../tunnel/resolve.js';
import { forwardHttp, forwardUpgrade, writeSocketResponse, type ForwardTarget } from './forward.js';
import { badGatewayPage, offlinePage, OFFLINE_REFRESH_SECONDS, unknownHandlePage } from './pages.js';
import { RegisterLimit, type RegisterLimitOptions } from './register-limit.js';
import { HandleTakenError, type Handle, type RelayRegistry } from './registry.js';
import { allowedTunnelOrigin, describeTunnelOrigins, QUICK_TUNNEL_ORIGINS, type TunnelOriginRule } from './tunnel-origin.js';

/**
 * The relay (seed 002, "Fluxy Relay"): a stable address per user in front of an ephemeral
 * tunnel. `<user>.<domain>` and `<domain>/<user>` reach a premium handle, `<user>.my.<domain>`
 * and `my.<domain>/<user>` a free one. Proxied traffic never enters Fastify: the server
 * factory routes it before any body parser can touch the stream (the seed's POST-body bug),
 * and upgrades are spliced at the socket. Fastify only serves the relay's own /api.
 */
export const RELAY_STALE_AFTER_MS = 120_000;
export const RESERVED_USERNAMES = new Set(['api', 'www', 'my', 'admin', 'relay', 'status', 'static', 'assets', 'mail', 'app', 'auth', 'login', 'root', 'support', 'help', 'flow', 'fluxy', 'localhost']);

export interface RelayOptions {
  /** The relay's domain, e.g. example.test (handles live at <user>.<domain>). */
  domain: string;
  registry: RelayRegistry;
  clock?: Clock;
  /** Where to dial for a tunnel URL (tests map quick-tunnel names to loopback). */
  resolve?: UpstreamResolver;
  staleAfterMs?: number;
  /** Origins a tunnel URL may be (default: https://<name>.trycloudflare.com only; see tunnel-origin.ts). */
  tunnelOrigins?: readonly TunnelOriginRule[];
  /** How often one client may register (default: a burst of 5, then one a minute). */
  registerLimit?: RegisterLimitOptions;
  /** Proxies whose X-Forwarded-For names the client (default: loopback). */
  trustedProxies?: TrustedProxies;
  /** Scheme of the public handle URLs the API reports (the relay usually sits behind TLS). */
  publicScheme?: 'http' | 'https';
}

export type RelayRoute = { kind: 'api' } | { kind: 'handle'; username: string; tier: RelayTier; path: string; prefix: string };

function isUsername(s: string): boolean {
  return RelayUsernameSchema.safeParse(s).success && !RESERVED_USERNAMES.has(s);
}

/** Decides from Host and path whether a request is for a handle (and which) or for the API. */
export function routeRequest(domain: string, hostHeader: string | undefined, rawUrl: string): RelayRoute {
  const host = (hostHeader ?? '').toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
  const d = domain.toLowerCase();
  const url = rawUrl.startsWith('/') ? rawUrl : `/${rawUrl}`;
  const byPath = (tier: RelayTier): RelayRoute => {
    const m = /^\/([^/?#]+)(\/[^?#]*)?(\?.*)?$/.exec(url);
    if (!m || !isUsername(m[1]!)) return { kind: 'api' };
    return { kind: 'handle', username: m[1]!, tier, path: (m[2] ?? '/') + (m[3] ?? ''), prefix: `/${m[1]}` };
  };
  if (host === d) return byPath('premium');
  if (host === `my.${d}`) return byPath('free');
  for (const [suffix, tier] of [[`.my.${d}`, 'free'], [`.${d}`, 'premium']] as const) {
    if (!host.endsWith(suffix)) continue;
    const label = host.slice(0, -suffix.length);
    return isUsername(label) ? { kind: 'handle', username: label, tier, path: url, prefix: '' } : { kind: 'api' };
  }
  return { kind: 'api' };
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value ?? {});
  if (!r.success) throw new ApiError(400, 'invalid', r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
  return r.data;
}

export function buildRelay(opts: RelayOptions): FastifyInstance {
  const clock = opts.clock ?? systemClock;
  const resolve = opts.resolve ?? directResolver;
  const staleAfter = opts.staleAfterMs ?? RELAY_STALE_AFTER_MS;
  const tunnelOrigins = opts.tunnelOrigins ?? QUICK_TUNNEL_ORIGINS;
  const registerLimit = new RegisterLimit(opts.registerLimit);
  const trusted = opts.trustedProxies ?? trustedProxies();
  const scheme = opts.publicScheme ?? 'https';
  const { registry, domain } = opts;

  const handleUrl = (h: Pick<Handle, 'username' | 'tier'>) => `${scheme}://${h.username}.${h.tier === 'free' ? 'my.' : ''}${domain}/`;
  const label = (r: { username: string; tier: RelayTier }) => `${r.username}${r.tier === 'free' ? ' (free)' : ''}`;

  // Parsed to the origin it names: what is stored is what was checked.
  const TunnelUrlSchema = z.string().transform((s, ctx) => {
    const origin = allowedTunnelOrigin(s, tunnelOrigins);
    if (origin === null) {
      ctx.addIssue({ code: 'custom', message: `tunnelUrl must be the origin of a tunnel this relay accepts (${describeTunnelOrigins(tunnelOrigins)}): no other port, user, path, query or fragment` });
      return z.NEVER;
    }
    return origin;
  });

  /** Online = connected and heard from within the stale window; returns why not, or null. */
  function offlineSince(h: Handle): { ago: number | null } | null {
    const now = clock.now();
    // A URL stored under older or looser rules is not followed.
    if (!h.connected || !h.tunnelUrl || h.lastHeartbeatAt === null || allowedTunnelOrigin(h.tunnelUrl, tunnelOrigins) === null) return { ago: h.lastHeartbeatAt === null ? null : now - h.lastHeartbeatAt };
    if (now - h.lastHeartbeatAt > staleAfter) return { ago: now - h.lastHeartbeatAt };
    return null;
  }

  function targetFor(req: IncomingMessage, route: Extract<RelayRoute, { kind: 'handle' }>, tunnelUrl: string): ForwardTarget {
    const publicUrl = new URL(tunnelUrl);
    const forwardedFor = [req.headers['x-forwarded-for'], req.socket.remoteAddress].filter(Boolean).join(', ');
    const headers: Record<string, string> = {
      'x-forwarded-host': String(req.headers.host ?? ''),
      'x-forwarded-proto': String(req.headers['x-forwarded-proto'] ?? 'http'),
      'x-forwarded-for': forwardedFor,
    };
    if (route.prefix) headers['x-forwarded-prefix'] = route.prefix;
    return { connect: resolve(publicUrl), host: publicUrl.host, path: route.path, headers };
  }

  type Lookup = { ok: true; handle: Handle } | { ok: false; status: number; reason: string; html: string; headers: Record<string, string> };
  function lookup(route: Extract<RelayRoute, { kind: 'handle' }>): Lookup {
    const handle = registry.find(route.username, route.tier);
    if (!handle) return { ok: false, status: 404, reason: 'Not Found', html: unknownHandlePage(label(route)), headers: {} };
    const off = offlineSince(handle);
    if (off) {
      const refresh = String(OFFLINE_REFRESH_SECONDS);
      return { ok: false, status: 503, reason: 'Service Unavailable', html: offlinePage(label(route), off.ago), headers: { 'retry-after': refresh, refresh, 'cache-control': 'no-store' } };
    }
    return { ok: true, handle };
  }

  function proxyHttp(req: IncomingMessage, res: ServerResponse, route: Extract<RelayRoute, { kind: 'handle' }>): void {
    const found = lookup(route);
    if (!found.ok) {
      res.writeHead(found.status, { 'content-type': 'text/html; charset=utf-8', ...found.headers });
      res.end(found.html);
      req.resume();
      return;
    }
    forwardHttp(req, res, targetFor(req, route, found.handle.tunnelUrl!), (err, r) => {
      r.writeHead(502, { 'content-type': 'text/html; charset=utf-8' });
      r.end(badGatewayPage(label(route), err.message));
    });
  }

  // Spliced sockets leave the HTTP server's books: close() must end them itself.
  const upgraded = new Set<Duplex>();
  function proxyUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    if (!isHttp1(req.httpVersion)) return writeSocketResponse(socket, 400, 'Bad Request', `${refusalMessage(NOT_HTTP1, { accepted: '' })}\n`);
    const route = routeRequest(domain, req.headers.host, req.url ?? '/');
    if (route.kind !== 'handle') return writeSocketResponse(socket, 404, 'Not Found', 'no WebSocket here: connect through a handle\n');
    const found = lookup(route);
    if (!found.ok) return writeSocketResponse(socket, found.status, found.reason, `${label(route)}: ${found.status === 404 ? 'unknown handle' : 'offline'}\n`, found.headers);
    forwardUpgrade(req, socket, head, targetFor(req, route, found.handle.tunnelUrl!));
  }

  const app = Fastify({
    logger: false,
    forceCloseConnections: true,
    serverFactory: (handler) => {
      const server = http.createServer((req, res) => {
        // A request line that is not HTTP/1.x was misparsed (its target holds a raw LF), so its
        // route cannot be trusted: never forward it; the API's host hook refuses it (400, JSON).
        if (!isHttp1(req.httpVersion)) return handler(req, res);
        const route = routeRequest(domain, req.headers.host, req.url ?? '/');
        if (route.kind === 'handle') proxyHttp(req, res, route);
        else handler(req, res);
      });
      server.on('upgrade', proxyUpgrade);
      return server;
    },
  });

  function bearer(req: FastifyRequest): Handle & { token: string } {
    const m = /^Bearer\s+(\S+)$/i.exec(String(req.headers.authorization ?? ''));
    if (!m) throw new ApiError(401, 'unauthorized', 'send the token from /api/register as "Authorization: Bearer <token>"');
    const handle = registry.byToken(m[1]!);
    if (!handle) throw new ApiError(401, 'unauthorized', 'unknown or wrong token');
    return { ...handle, token: m[1]! };
  }

  const view = (h: Handle) => ({
    username: h.username,
    tier: h.tier,
    url: handleUrl(h),
    tunnelUrl: h.tunnelUrl,
    online: offlineSince(h) === null,
    lastHeartbeatAt: h.lastHeartbeatAt === null ? null : new Date(h.lastHeartbeatAt).toISOString(),
  });

  app.addHook('onClose', async () => {
    for (const s of upgraded) s.destroy();
  });

  // The relay's own API answers to its domain and to loopback (any port: it usually sits behind
  // a local TLS front), never to a name rebound to it. Handle names get here only on a request
  // line that is not HTTP/1.x (refused here); the server factory forwards the rest before Fastify.
  const apiHosts = [domain, `my.${domain}`].map((name) => ({ name: name.toLowerCase(), port: null }));
  app.addHook('onRequest', async (req, reply) => {
    const verdict = judgeHost(req.headers.host, { localPort: req.socket?.localPort ?? null, allowed: apiHosts, anyLoopbackPort: true, httpVersion: req.raw.httpVersion });
    if (verdict.ok) return;
    const message = refusalMessage(verdict, { accepted: `${domain}, my.${domain} and loopback names` });
    return reply.status(verdict.reason === 'not-allowed' ? 421 : 400).send({ error: verdict.reason === 'not-allowed' ? 'misdirected' : 'invalid', message });
  });

  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply: FastifyReply) => {
    if (err instanceof ApiError) return reply.status(err.status).send({ error: err.code, message: err.message });
    const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    return reply.status(status).send({ error: status < 500 ? 'invalid' : 'internal', message: err.message });
  });
  app.setNotFoundHandler((req, reply) => reply.status(404).send({ error: 'not_found', message: `no route ${req.method} ${req.url} (handles live at <user>.${domain})` }));

  const RegisterBody = z.object({ username: z.string(), tier: RelayTierSchema.default('premium') }).strict();

  /** A name a user may hold: valid (length, charset) and not reserved; the error says which rule it broke. */
  function claimable(raw: string): string {
    const username = parse(RelayUsernameSchema, raw);
    if (RESERVED_USERNAMES.has(username)) throw new ApiError(409, 'reserved', `the username "${username}" is reserved (reserved: ${[...RESERVED_USERNAMES].sort().join(', ')})`);
    return username;
  }

  async function register(req: FastifyRequest, reply: FastifyReply) {
    // Before anything is parsed: every attempt counts, so names cannot be probed for free either.
    const take = registerLimit.take(clientKey(clientAddress(req.socket.remoteAddress, req.headers, trusted)), clock.now());
    if (!take.ok) {
      const wait = Math.max(1, Math.ceil(take.retryAfterMs / 1000));
      return reply.status(429).header('retry-after', String(wait)).send({ error: 'rate_limited', message: `too many registrations from this address; try again in ${wait} s` });
    }
    const body = parse(RegisterBody, req.body);
    const username = claimable(body.username);
    try {
      const { token, handle } = registry.register(username, body.tier, clock.now());
      return reply.status(201).send({ ...view(handle), token });
    } catch (err) {
      if (err instanceof HandleTakenError) throw new ApiError(409, 'taken', err.message);
      throw err;
    }
  }
  app.post('/api/register', register);

  const CheckQuery = z.object({ username: z.string(), tier: RelayTierSchema.default('premium') });
  function availability(q: z.infer<typeof CheckQuery>): { available: true } | { available: false; reason: string; message: string } {
    const valid = RelayUsernameSchema.safeParse(q.username);
    if (!valid.success) return { available: false, reason: 'invalid', message: valid.error.issues[0]!.message };
    if (RESERVED_USERNAMES.has(q.username)) return { available: false, reason: 'reserved', message: `the username "${q.username}" is reserved` };
    return registry.find(q.username, q.tier) ? { available: false, reason: 'taken', message: `the username "${q.username}" is already taken on the ${q.tier} tier` } : { available: true };
  }
  app.get('/api/available', async (req) => {
    const a = availability(parse(CheckQuery, req.query));
    return a.available ? a : { available: false, reason: a.reason === 'invalid' ? a.message : a.reason };
  });

  // Fluxy's /api/handle/*: check, register, change (rename), release. Only the token given at
  // registration may change or release a handle; the token says which handle, never the body.
  app.get('/api/handle/check', async (req) => {
    const q = parse(CheckQuery, req.query);
    return { username: q.username, tier: q.tier, ...availability(q) };
  });
  app.post('/api/handle/register', register);
  const ChangeBody = z.object({ username: z.string(), tier: RelayTierSchema.optional() }).strict();
  app.post('/api/handle/change', async (req) => {
    const h = bearer(req);
    const body = parse(ChangeBody, req.body);
    const username = claimable(body.username);
    const tier = body.tier ?? h.tier;
    if (username === h.username && tier === h.tier) return { ...view(h), previous: { username: h.username, tier: h.tier } };
    try {
      return { ...view(registry.rename(h.token, username, tier)!), previous: { username: h.username, tier: h.tier } };
    } catch (err) {
      if (err instanceof HandleTakenError) throw new ApiError(409, 'taken', err.message);
      throw err;
    }
  });
  app.post('/api/handle/release', async (req) => {
    const h = bearer(req);
    registry.release(h.token);
    return { released: true, username: h.username, tier: h.tier };
  });

  const TunnelBody = z.object({ tunnelUrl: TunnelUrlSchema });
  app.put('/api/tunnel', async (req) => {
    const h = bearer(req);
    const body = parse(TunnelBody, req.body);
    return view(registry.setTunnel(h.token, body.tunnelUrl, clock.now())!);
  });

  const HeartbeatBody = z.object({ tunnelUrl: TunnelUrlSchema.optional() });
  app.post('/api/heartbeat', async (req) => {
    const h = bearer(req);
    const body = parse(HeartbeatBody, req.body);
    const url = body.tunnelUrl;
    if (!url && !h.tunnelUrl) throw new ApiError(409, 'no_tunnel', 'no tunnel URL registered yet: PUT /api/tunnel first or send tunnelUrl');
    return view(registry.heartbeat(h.token, url, clock.now())!);
  });

  app.post('/api/disconnect', async (req) => {
    const h = bearer(req);
    return view(registry.disconnect(h.token)!);
  });

  app.delete('/api/handle', async (req) => {
    const h = bearer(req);
    registry.release(h.token);
    return { released: true, username: h.username, tier: h.tier };
  });

  app.get('/api/me', async (req) => view(bearer(req)));
  app.get('/api/health', async () => ({ ok: true, domain }));
  app.get('/', async () => ({ relay: 'flow', domain, handles: `<user>.${domain}, ${domain}/<user>, <user>.my.${domain}` }));

  return app;
}
