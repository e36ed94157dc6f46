import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ApiError } from '../errors.js';
import { zodRoute } from '../validation.js';
import { authenticatedAs, presentedToken, sessionCookie as cookieHeader } from './guard.js';
import type { TokenStore } from './tokens.js';

export const LoginBodySchema = z.object({ password: z.string().min(1).max(1024), label: z.string().max(200).optional() }).strict();
export const LoginResponseSchema = z.object({ token: z.string(), tokenType: z.literal('Bearer'), expiresAt: z.string() });
export const AuthStatusSchema = z.object({ passwordSet: z.boolean(), authenticated: z.boolean() });

/** A login body is a password; nothing near the gateway's 1 MiB default is one. */
const LOGIN_BODY_LIMIT = 16 * 1024;

export interface AuthRouteDeps {
  tokens: TokenStore;
  isConfigured: () => boolean;
  verify: (password: string) => Promise<boolean>;
}

/** Plain http on loopback is the default; behind TLS (a tunnel) the cookie must not travel over http. */
function sessionCookie(request: FastifyRequest, token: string, maxAgeSeconds: number): string {
  return cookieHeader(token, maxAgeSeconds, request.protocol === 'https');
}

/** Marks a route as reachable without a token (the guard reads `config.public`). */
export function publicRoute<R extends { config: object }>(route: R): R & { config: R['config'] & { public: true } } {
  return { ...route, config: { ...route.config, public: true as const } };
}

/**
 * scrypt is deliberately costly (tens of ms, 16 MiB): checking attempts one at a time keeps a
 * flood of logins from taking the machine's memory and cores.
 */
function serialized<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  let last: Promise<unknown> = Promise.resolve();
  return (...args) => {
    const run = last.then(() => fn(...args));
    last = run.catch(() => undefined);
    return run;
  };
}

export async function authRoutes(app: FastifyInstance, deps: AuthRouteDeps): Promise<void> {
  const verify = serialized(deps.verify);

  app.route({
    method: 'POST',
    url: '/api/auth/login',
    bodyLimit: LOGIN_BODY_LIMIT,
    ...publicRoute(zodRoute({ body: LoginBodySchema }, async ({ body }, request, reply: FastifyReply) => {
      if (!deps.isConfigured()) throw ApiError.conflict('no password is set, so there is nothing to log in to; set one with "f auth set-password"');
      // One message for every failure: the response says nothing about the stored password.
      if (!(await verify(body.password))) throw ApiError.unauthorized('wrong password');
      const { token, expiresAt } = deps.tokens.issue(body.label ?? request.headers['user-agent'] ?? 'unknown client');
      reply.header('set-cookie', sessionCookie(request, token, Math.floor(deps.tokens.ttlMs / 1000)));
      reply.header('cache-control', 'no-store');
      return { token, tokenType: 'Bearer' as const, expiresAt: new Date(expiresAt).toISOString() };
    })),
  });

  app.route({
    method: 'POST',
    url: '/api/auth/logout',
    ...zodRoute({}, (_input, request, reply) => {
      // With auth on, the guard has validated this token; with it off there may be none.
      const presented = authenticatedAs(request) ?? presentedToken(request);
      if (presented) deps.tokens.revoke(presented.token);
      reply.header('set-cookie', sessionCookie(request, '', 0));
      return { ok: true };
    }),
  });

  app.route({
    method: 'GET',
    url: '/api/auth/status',
    ...publicRoute(zodRoute({}, (_input, request) => {
      const passwordSet = deps.isConfigured();
      const presented = presentedToken(request);
      return { passwordSet, authenticated: passwordSet && presented !== null && deps.tokens.check(presented.token).ok };
    })),
  });
}
