import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody, type ApiErrorCode } from '../errors.js';
import { isForeignOrigin, isUnsafeMethod, isWebSocketUpgrade } from './origin.js';
import type { TokenStore } from '../../services/auth/tokens.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Reachable without a token when a password is set (login, status). */
    public?: boolean;
  }
}

/** The dashboard's session cookie: HttpOnly (no script reads it), SameSite=Strict. */
export const SESSION_COOKIE = 'flow_session';

/**
 * Marks a route as reachable without a token (health, login, the dashboard's static shell).
 * Every other route, and every request that matched no route, needs one: deny by default.
 */
export function publicRoute<R extends { config?: object }>(route: R): R & { config: NonNullable<R['config']> & { public: true } } {
  return { ...route, config: { ...(route.config as NonNullable<R['config']>), public: true as const } };
}

/**
 * Whether the route the router matched is public. Judged on the match, never on the raw URL:
 * the router decodes the path (`/%61pi/backends` is `/api/backends`) and accepts absolute-form
 * targets, so a test on `request.url` sees one path while another one runs. A request that
 * matched nothing (the 404 handler) is not public either: it learns nothing without a login.
 */
export function isPublicRoute(request: FastifyRequest): boolean {
  // routeOptions is a getter that builds a new object on every read: read it once.
  const route = request.routeOptions;
  return route.url !== undefined && route.config?.public === true;
}

export interface Presented {
  token: string;
  via: 'bearer' | 'cookie';
}

/** The token a request carries: `Authorization: Bearer …` first, then the session cookie. */
export function presentedToken(request: FastifyRequest): Presented | null {
  const header = request.headers.authorization;
  if (header) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (m) return { token: m[1]!, via: 'bearer' };
  }
  const token = cookieValue(request.headers.cookie, SESSION_COOKIE);
  return token ? { token, via: 'cookie' } : null;
}

/**
 * One cookie's value from a Cookie header. By hand, because the one cookie Flow sets holds a
 * base64url token (nothing to decode) and @fastify/cookie's helpers need the plugin registered.
 */
export function cookieValue(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || null;
  }
  return null;
}

/** The Set-Cookie value for the session: HttpOnly (no script reads it), SameSite=Strict, whole site. */
export function sessionCookie(token: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${token}; Max-Age=${Math.max(0, maxAgeSeconds)}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export interface GuardDeps {
  tokens: TokenStore;
  /** Whether a password is set right now (cheap; called on every request). */
  isConfigured: () => boolean;
  /** Origins besides the gateway's own that may open WebSockets and send unsafe requests. */
  allowedOrigins?: readonly string[];
}

/** What the guard learned about a request; logout reads it to know which token to revoke. */
const seen = new WeakMap<FastifyRequest, Presented>();

export function authenticatedAs(request: FastifyRequest): Presented | undefined {
  return seen.get(request);
}

function refuse(reply: FastifyReply, request: FastifyRequest, status: number, code: ApiErrorCode, message: string): FastifyReply {
  // A refused upgrade must not leave the socket open: "connection: close" tells the client, and
  // @fastify/websocket's onResponse hook destroys the raw socket once this reply is written
  // (its onRequest hook ran before ours, so it knows this request was an upgrade).
  if (isWebSocketUpgrade(request)) reply.header('connection', 'close');
  if (status === 401) reply.header('www-authenticate', 'Bearer realm="flow"');
  return reply.code(status).send(errorBody(code, message));
}

/**
 * The root onRequest hook. It runs before the body is read and before any route handler,
 * so a WebSocket is refused before the 101 is sent (checking inside the WebSocket handler
 * would be too late: the upgrade would already be accepted).
 */
export function authGuard(deps: GuardDeps) {
  return async function flowAuthGuard(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const verdict = judge(request, deps);
    // A refused request is answered here and goes no further (Fastify stops at a sent reply).
    if (verdict !== null) refuse(reply, request, verdict.status, verdict.code, verdict.message);
  };
}

type Refusal = { status: number; code: ApiErrorCode; message: string };

/** Null: the request may go on. */
function judge(request: FastifyRequest, deps: GuardDeps): Refusal | null {
  const upgrade = isWebSocketUpgrade(request);
  if ((upgrade || isUnsafeMethod(request.method)) && isForeignOrigin(request, deps.allowedOrigins)) {
    return { status: 403, code: 'forbidden', message: `requests from ${request.headers.origin} are not accepted; open the dashboard from this gateway` };
  }
  if (!deps.isConfigured()) return null;
  if (isPublicRoute(request)) return null;

  const presented = presentedToken(request);
  if (!presented) return { status: 401, code: 'unauthorized', message: 'log in first: POST /api/auth/login, or "f auth login" for the CLI' };
  const check = deps.tokens.check(presented.token);
  if (!check.ok) return { status: 401, code: 'unauthorized', message: check.reason === 'expired' ? 'the session has expired; log in again' : 'the token is not valid; log in again' };
  seen.set(request, presented);
  return null;
}
