import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../../services/store/db.js';
import type { RoutePlugin } from '../context.js';
import { documentResponses } from '../openapi.js';
import { EnforcedPassword, type Exposure } from './exposure.js';
import { authGuard } from './guard.js';
import { verifyAgainst } from './password.js';
import { authRoutes } from './routes.js';
import { TokenStore, type TokenStoreOptions } from './tokens.js';

export { authIsConfigured, setPassword, removePassword, verifyPassword, PasswordSchema } from './password.js';
export { TokenStore, TOKEN_TTL_MS, TOKEN_CACHE_MS } from './tokens.js';
export { SESSION_COOKIE, isPublicRoute, publicRoute } from './guard.js';
export { hostGuard, originFormUrl, tunnelHosts } from './host.js';

/** What buildGateway needs to enforce a login: a root hook and the /api/auth routes. */
export interface GatewayAuth {
  onRequest: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  routes: RoutePlugin;
  isConfigured: () => boolean;
  tokens: TokenStore;
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
  const tokens = new TokenStore(opts.db, opts);
  // Read from the file rather than fixed at start, so "f auth set-password" takes effect on a
  // running gateway within a second; but an exposed gateway fails closed (see EnforcedPassword).
  const password = new EnforcedPassword({ home: opts.home, exposure: opts.exposure, cacheMs: opts.configuredCacheMs });
  const isConfigured = (): boolean => password.isRequired();
  const verify = async (candidate: string): Promise<boolean> => {
    const record = password.record();
    return record ? verifyAgainst(record, candidate) : false;
  };
  return {
    tokens,
    isConfigured,
    onRequest: authGuard({ tokens, isConfigured, allowedOrigins: opts.allowedOrigins }),
    routes: async (app) => {
      // The login route's own answers (it is public: its 401 is a wrong password, not a missing token).
      documentResponses(app, {
        '/api/auth/login': { 401: 'wrong password', 409: 'no password is set: there is nothing to log in to', 429: 'too many failed attempts from this client; wait and retry' },
      });
      await authRoutes(app, { tokens, isConfigured, verify, now: opts.now, exposure: opts.exposure, failClosed: () => password.failClosed() });
    },
  };
}
