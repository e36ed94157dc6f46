import type { FastifyInstance } from 'fastify';
import type { CommandQueue } from '../services/queue/types.js';
import type { LiveBus } from '../services/bus/types.js';
import type { EventLog, ReadModel } from '../services/store/read-model.js';
import type { ClientRegistry } from './streams/clients.js';
import type { GatewayAuth } from './auth/index.js';
import type { AllowedHost } from '../services/auth/allowed-hosts.js';
import type { ErrorLog } from './errors.js';
import type { BackendMetrics } from '../services/backend-child/metrics.js';

export interface GatewayOptions {
  /** SSE `: ping` comments and WebSocket pings, in ms (default 25 s, as Centrifugo and Socket.IO). */
  heartbeatMs?: number;
  /** Bytes queued for one streaming client past which it is cut off (default 1 MiB, as Centrifugo). */
  maxClientBufferBytes?: number;
  /** Largest request body accepted (default 1 MiB); larger → 413. */
  bodyLimitBytes?: number;
  /**
   * Largest WebSocket message relayed through /app/<backend>/api, either way (default 16 MiB);
   * larger closes the socket with 1009. The gateway's own /api/ws keeps its 64 KiB.
   */
  proxyWsMaxPayloadBytes?: number;
}

/** A route plugin added by whoever wires the gateway (auth, proxy, task board...). */
export type RoutePlugin = (app: FastifyInstance, ctx: GatewayContext) => Promise<void> | void;

export interface GatewayDeps {
  log: EventLog;
  readModel: ReadModel;
  commands: CommandQueue;
  live: LiveBus;
  options?: GatewayOptions;
  /** Registered after the built-in routes, each in its own encapsulated context. */
  extraRoutes?: RoutePlugin[];
  /** Login enforcement (gateway/auth): its onRequest hook guards every route, its routes are /api/auth/*. */
  auth?: GatewayAuth;
  /** The last CPU/memory sample of a running backend (services/backend-child/metrics.ts); none → no figures. */
  backendMetrics?: (streamId: string) => BackendMetrics | null;
  /** Fastify's logger option; off unless given. */
  logger?: boolean | Record<string, unknown>;
  /** Where every 500 is written (default: stderr, so `f up` and `f gateway` show it). */
  logError?: ErrorLog;
  /**
   * Host names besides loopback (at the bound port) that the gateway answers to
   * (FLOW_ALLOWED_HOSTS). The public names of tunnels exposing the gateway are added from the read model.
   */
  allowedHosts?: readonly AllowedHost[];
  /** A user's own frontend served at `/` (PUBLIC_DIR); the dashboard is then at /flow/ only. */
  publicDir?: string;
}

export type ResolvedOptions = Required<GatewayOptions>;

export const DEFAULT_OPTIONS: ResolvedOptions = {
  heartbeatMs: 25_000,
  maxClientBufferBytes: 1024 * 1024,
  bodyLimitBytes: 1024 * 1024,
  proxyWsMaxPayloadBytes: 16 * 1024 * 1024,
};

/** What every route plugin gets: the dependencies, resolved options and the stream clients. */
export interface GatewayContext {
  deps: GatewayDeps;
  options: ResolvedOptions;
  clients: ClientRegistry;
}
