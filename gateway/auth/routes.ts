import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { clientAddress, clientKey, trustedProxiesFromEnv, type TrustedProxies } from '../../services/net/client-address.js';
import { ApiError, errorBody } from '../errors.js';
import { zodRoute } from '../validation.js';
import { authenticatedAs, presentedToken, publicRoute, sessionCookie as cookieHeader } from './guard.js';
import { LoginThrottle } from './login-throttle.js';
import { isForeignOrigin } from './origin.js';
import type { TokenStore } from '../../services/auth/tokens.js';

export const LoginBodySchema = z.object({ password: z.string().min(1).max(1024), label: z.string().max(200).optional() }).strict();
export const LoginResponseSchema = z.object({ token: z.string(), tokenType: z.literal('Bearer'), expiresAt: z.string() });
/** The Authorization header of a Basic login; checked in the handler, which answers with a challenge. */
export const BasicLoginHeadersSchema = z.looseObject({ authorization: z.string().max(4096, 'the Authorization header is too long for a password').optional() });
export const LogoutResponseSchema = z.object({ ok: z.literal(true) });
export const AuthStatusSchema = z.object({
  /** A login is required (a password is set, or the file is gone while the gateway is exposed). */
  passwordSet: z.boolean(),
  authenticated: z.boolean(),
  /** Why this gateway is reachable from beyond this machine (a bind, a tunnel), or null. */
  exposure: z.string().nullable(),
  /** The password file is gone but the gateway is exposed, so it keeps the last password. */
  failClosed: z.boolean(),
});

/** What a browser shows its own password prompt for (RFC 7617); charset says the password is UTF-8. */
const BASIC_CHALLENGE = 'Basic realm="flow", charset="UTF-8"';

/**
 * The password of an `Authorization: Basic` header (RFC 7617: base64 of `user:password`, the
 * password is everything after the first colon), or null when the header is not one.
 */
export function basicPassword(header: string | undefined): string | null {
  const m = header ? /^Basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(header) : null;
  if (!m) return null;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  const password = decoded.slice(colon + 1);
  return password.length > 0 && password.length <= 1024 ? password : null;
}

/** A login body is a password; nothing near the gateway's 1 MiB default is one. */
const LOGIN_BODY_LIMIT = 16 * 1024;

export interface AuthRouteDeps {
  tokens: TokenStore;
  isConfigured: () => boolean;
  verify: (password: string) => Promise<boolean>;
  /** Per-client backoff and the cap on concurrent checks (default: a LoginThrottle on `now`). */
  throttle?: LoginThrottle;
  now?: () => number;
  /** Proxies whose X-Forwarded-For names the client (default: loopback + FLOW_TRUSTED_PROXIES). */
  trustedProxies?: TrustedProxies;
  exposure?: () => string | null;
  failClosed?: () => boolean;
  /** Origins besides the gateway's own that may log in (the GET login checks them itself). */
  allowedOrigins?: readonly string[];
}

/** Plain http on loopback is the default; behind TLS (a tunnel) the cookie must not travel over http. */
function sessionCookie(request: FastifyRequest, token: string, maxAgeSeconds: number): string {
  return cookieHeader(token, maxAgeSeconds, request.protocol === 'https');
}

export async function authRoutes(app: FastifyInstance, deps: AuthRouteDeps): Promise<void> {
  // scrypt is deliberately costly (tens of ms, 16 MiB): the throttle runs checks one at a time
  // and answers a client that keeps guessing, or floods, with 429 instead of a place in line.
  const throttle = deps.throttle ?? new LoginThrottle({ now: deps.now });
  const trusted = deps.trustedProxies ?? trustedProxiesFromEnv();

  /** One login, whichever way the password came: throttled, one answer for every wrong password. */
  async function logIn(password: string, label: string | undefined, request: FastifyRequest, reply: FastifyReply, onWrong: () => never) {
    if (!deps.isConfigured()) throw ApiError.conflict('no password is set, so there is nothing to log in to; set one with "f auth set-password"');
    const client = clientKey(clientAddress(request.socket.remoteAddress, request.headers, trusted));
    const attempt = await throttle.attempt(client, () => deps.verify(password));
    if (attempt.kind === 'limited') {
      return reply
        .code(429)
        .header('retry-after', String(Math.max(1, Math.ceil(attempt.retryAfterMs / 1000))))
        .send(errorBody('rate_limited', attempt.message));
    }
    // One message for every failure: the response says nothing about the stored password.
    if (!attempt.valid) onWrong();
    const { token, expiresAt } = deps.tokens.issue(label ?? request.headers['user-agent'] ?? 'unknown client');
    reply.header('set-cookie', sessionCookie(request, token, Math.floor(deps.tokens.ttlMs / 1000)));
    reply.header('cache-control', 'no-store');
    return { token, tokenType: 'Bearer' as const, expiresAt: new Date(expiresAt).toISOString() };
  }

  app.route({
    method: 'POST',
    url: '/api/auth/login',
    bodyLimit: LOGIN_BODY_LIMIT,
    ...publicRoute(zodRoute({ body: LoginBodySchema, response: LoginResponseSchema }, ({ body }, request, reply: FastifyReply) =>
      logIn(body.password, body.label, request, reply, () => {
        throw ApiError.unauthorized('wrong password');
      }),
    )),
  });

  // Fluxy's portal also logs in with `GET` and `Authorization: Basic base64(user:password)`
  // (the user name is ignored: Flow has one password). A GET is a safe method, so the guard's
  // Origin check (for unsafe methods) does not cover it: it is made here, as the POST gets it.
  app.route({
    method: 'GET',
    url: '/api/auth/login',
    ...publicRoute(zodRoute({ headers: BasicLoginHeadersSchema, response: LoginResponseSchema }, ({ headers }, request, reply: FastifyReply) => {
      if (isForeignOrigin(request, deps.allowedOrigins)) {
        throw ApiError.forbidden(`requests from ${request.headers.origin} are not accepted; open the dashboard from this gateway`);
      }
      const challenge = (message: string): never => {
        reply.header('www-authenticate', BASIC_CHALLENGE);
        throw ApiError.unauthorized(message);
      };
      const password = basicPassword(headers.authorization);
      if (password === null) return challenge('send the password as "Authorization: Basic <base64 of user:password>" (any user name), or POST /api/auth/login with {"password": ...}');
      return logIn(password, undefined, request, reply, () => challenge('wrong password'));
    })),
  });

  app.route({
    method: 'POST',
    url: '/api/auth/logout',
    ...zodRoute({ response: LogoutResponseSchema }, (_input, request, reply) => {
      // With auth on, the guard has validated this token; with it off there may be none.
      const presented = authenticatedAs(request) ?? presentedToken(request);
      if (presented) deps.tokens.revoke(presented.token);
      reply.header('set-cookie', sessionCookie(request, '', 0));
      return { ok: true as const };
    }),
  });

  app.route({
    method: 'GET',
    url: '/api/auth/status',
    ...publicRoute(zodRoute({ response: AuthStatusSchema }, (_input, request) => {
      const passwordSet = deps.isConfigured();
      const presented = presentedToken(request);
      return {
        passwordSet,
        authenticated: passwordSet && presented !== null && deps.tokens.check(presented.token).ok,
        exposure: deps.exposure?.() ?? null,
        failClosed: passwordSet && (deps.failClosed?.() ?? false),
      };
    })),
  });
}
