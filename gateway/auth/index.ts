import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { verifyAgainst } from '../../services/auth/password.js';
import { TokenStore, type TokenStoreOptions } from '../../services/auth/tokens.js';
import type { Db } from '../../services/store/db.js';
import { documentResponses } from '../openapi.js';
import { EnforcedPassword, type Exposure } from './exposure.js';
import { authGuard } from './guard.js';
import { hostGuard, type HostGuardDeps } from './host.js';
import { authRoutes } from './routes.js';

/**
 * What a gateway needs to enforce a login: the tokens, whether a password is required right
 * now, and how to check one. The flowAuth plugin turns it into hooks and the /api/auth routes.
 */
export interface GatewayAuth {
  tokens: TokenStore;
  isConfigured: () => boolean;
  verify: (password: string) => Promise<boolean>;
  /** True while a removed password is kept because the gateway is exposed. */
  failClosed: () => boolean;
  exposure?: Exposure;
  allowedOrigins?: readonly string[];
  now?: () => number;
}

export interface GatewayAuthOptions extends TokenStoreOptions {
  /** $FLOW_HOME: where the password file lives. */
  home: string;
  /** The Flow database (tokens live in its auth_tokens table). */
  db: Db;
  allowedOrigins?: readonly string[];
  /** How long "is a password set?" is remembered (default 1 s), so requests do not stat a file each. */
  configuredCacheMs?: number;
  /** Why the gateway is reachable from beyond this machine; while it is, the login never turns off. */
  exposure?: Exposure;
}

export function createGatewayAuth(opts: GatewayAuthOptions): GatewayAuth {
  // Read from the file rather than fixed at start, so "f auth set-password" takes effect on a
  // running gateway within a second; but an exposed gateway fails closed (see EnforcedPassword).
  const password = new EnforcedPassword({ home: opts.home, exposure: opts.exposure, cacheMs: opts.configuredCacheMs });
  return {
    tokens: new TokenStore(opts.db, opts),
    isConfigured: () => password.isRequired(),
    verify: async (candidate) => {
      const record = password.record();
      return record ? verifyAgainst(record, candidate) : false;
    },
    failClosed: () => password.failClosed(),
    exposure: opts.exposure,
    allowedOrigins: opts.allowedOrigins,
    now: opts.now,
  };
}

export interface FlowAuthOptions {
  /** Which Host names the gateway answers to: judged on every request, password or not. */
  hosts: HostGuardDeps;
  /** The login; without it every route is open (a loopback gateway with no password). */
  auth?: GatewayAuth;
}

async function flowAuth(app: FastifyInstance, opts: FlowAuthOptions): Promise<void> {
  // Root onRequest hooks (fastify-plugin does not encapsulate), after @fastify/websocket's own,
  // which marks upgrades so that a refused one has its socket destroyed; before every route, so
  // nothing (no 101, no body) precedes them. The Host first: a rebound page is refused whether
  // or not a password is set.
  app.addHook('onRequest', hostGuard(opts.hosts));
  const auth = opts.auth;
  if (!auth) return;
  app.addHook('onRequest', authGuard({ tokens: auth.tokens, isConfigured: auth.isConfigured, allowedOrigins: auth.allowedOrigins }));
  // The routes in a scope of their own, so their documentation hook sees only them.
  await app.register(async (scope) => {
    // The login route's own answers (it is public: its 401 is a wrong password, not a missing token).
    documentResponses(scope, {
      '/api/auth/login': { 401: 'wrong password (the GET also when there is no Basic Authorization header; it answers with a WWW-Authenticate: Basic challenge)', 403: 'the GET came from a page of another origin', 409: 'no password is set: there is nothing to log in to', 429: 'too many failed attempts from this client; wait and retry' },
    });
    await authRoutes(scope, { tokens: auth.tokens, isConfigured: auth.isConfigured, verify: auth.verify, now: auth.now, exposure: auth.exposure, failClosed: auth.failClosed, allowedOrigins: auth.allowedOrigins });
  });
}

/**
 * The gateway's access control as one Fastify plugin, named so that other plugins can depend on
 * it, and depending on @fastify/websocket (whose onRequest hook must run before these).
 */
export const flowAuthPlugin = fp(flowAuth, { fastify: '5.x', name: 'flow-auth', dependencies: ['@fastify/websocket'] });
