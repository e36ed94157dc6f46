import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { clientAddress, clientKey, trustedProxiesFromEnv, type TrustedProxies } from '../../services/net/client-address.js';
import { ApiError, errorBody } from '../errors.js';
import { zodRoute } from '../validation.js';
import { authenticatedAs, presentedToken, publicRoute, sessionCookie as cookieHeader } from './guard.js';
import { LoginThrottle } from './login-throttle.js';
import type { TokenStore } from '../../services/auth/tokens.js';

export const LoginBodySchema = z.object({ password: z.string().min(1).max(1024), label: z.string().max(200).optional() }).strict();
export const LoginResponseSchema = z.object({ token: z.string(), tokenType: z.literal('Bearer'), expiresAt: z.string() });
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

  app.route({
    method: 'POST',
    url: '/api/auth/login',
    bodyLimit: LOGIN_BODY_LIMIT,
    ...publicRoute(zodRoute({ body: LoginBodySchema, response: LoginResponseSchema }, async ({ body }, request, reply: FastifyReply) => {
      if (!deps.isConfigured()) throw ApiError.conflict('no password is set, so there is nothing to log in to; set one with "f auth set-password"');
      const client = clientKey(clientAddress(request.socket.remoteAddress, request.headers, trusted));
      const attempt = await throttle.attempt(client, () => deps.verify(body.password));
      if (attempt.kind === 'limited') {
        return reply
          .code(429)
          .header('retry-after', String(Math.max(1, Math.ceil(attempt.retryAfterMs / 1000))))
          .send(errorBody('rate_limited', attempt.message));
      }
      // One message for every failure: the response says nothing about the stored password.
      if (!attempt.valid) throw ApiError.unauthorized('wrong password');
      const { token, expiresAt } = deps.tokens.issue(body.label ?? request.headers['user-agent'] ?? 'unknown client');
      reply.header('set-cookie', sessionCookie(request, token, Math.floor(deps.tokens.ttlMs / 1000)));
      reply.header('cache-control', 'no-store');
      return { token, tokenType: 'Bearer' as const, expiresAt: new Date(expiresAt).toISOString() };
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
