import { z } from 'zod';
import { actorNameSchema, TimerFiredSchema, type MachineEvents } from '../kind.js';
import { ExitCauseSchema, ProcessStartedSchema } from '../lifecycle.js';

export const TunnelNameSchema = actorNameSchema('a tunnel name');

/** Relay handles become DNS labels and URL path segments: no dots, no slashes, no upper case. */
export const RelayUsernameSchema = z
  .string()
  .min(1, 'a username must not be empty')
  .max(32, 'a username is at most 32 characters')
  .regex(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/, 'a username holds only lower-case letters, digits and "-" (no dots, slashes or spaces), and starts and ends with a letter or digit');
export const RelayTierSchema = z.enum(['premium', 'free']);
export type RelayTier = z.infer<typeof RelayTierSchema>;

export const RelayConfigSchema = z.object({
  url: z.string().url('the relay URL must be a URL such as https://relay.example.test'),
  username: RelayUsernameSchema,
  tier: RelayTierSchema.default('premium'),
});
export type RelayConfig = z.infer<typeof RelayConfigSchema>;

export const TunnelConfigSchema = z.object({
  name: TunnelNameSchema,
  port: z.number().int().min(1).max(65535),
  /** argv of the tunnel program, `{port}` replaced at spawn; null = the host's default (cloudflared). */
  command: z.array(z.string().min(1)).min(1).nullable().default(null),
  relay: RelayConfigSchema.nullable().default(null),
});
export type TunnelConfig = z.infer<typeof TunnelConfigSchema>;

export const tunnelEvents = {
  START_REQUESTED: TunnelConfigSchema,
  STOP_REQUESTED: z.object({}),
  RESTART_REQUESTED: z.object({}),
  REMOVE_REQUESTED: z.object({}),
  PROCESS_STARTED: ProcessStartedSchema,
  /** `permanent`: retrying cannot help (program not found, exposure refused). */
  SPAWN_FAILED: z.object({ error: z.string(), permanent: z.boolean().default(false) }),
  URL_ANNOUNCED: z.object({ pid: z.number().int().positive(), url: z.string().url() }),
  /** cloudflared's `Registered tunnel connection` line: the edge accepted the connection. */
  TUNNEL_CONNECTED: z.object({
    pid: z.number().int().positive(),
    location: z.string().nullable(),
    protocol: z.string().nullable(),
    connIndex: z.number().int().nullable(),
  }),
  PROCESS_EXITED: z.object({
    pid: z.number().int().positive(),
    code: z.number().int().nullable(),
    signal: z.string().nullable(),
    cause: ExitCauseSchema,
    rateLimited: z.boolean().default(false),
    lastStderr: z.string().max(4096).default(''),
  }),
  HEALTH_OK: z.object({ checkId: z.number().int(), status: z.number().int() }),
  HEALTH_FAILED: z.object({ checkId: z.number().int(), error: z.string(), status: z.number().int().nullable().default(null) }),
  RELAY_ONLINE: z.object({ handleUrl: z.string().url(), tunnelUrl: z.string().url() }),
  RELAY_FAILED: z.object({ stage: z.enum(['register', 'tunnel', 'heartbeat', 'disconnect']), error: z.string() }),
  RELAY_DISCONNECTED: z.object({}),
  HOST_RESUMED: z.object({}),
  /** cloudflared was missing: its release is being fetched (services/tunnel/cloudflared-download.ts). */
  DOWNLOAD_STARTED: z.object({ program: z.string(), version: z.string(), url: z.string().url(), totalBytes: z.number().int().nonnegative().nullable() }),
  /** A checkpoint of that download (a few per download, not every chunk). */
  DOWNLOAD_PROGRESS: z.object({ receivedBytes: z.number().int().nonnegative(), totalBytes: z.number().int().nonnegative().nullable() }),
  DOWNLOADED: z.object({ program: z.string(), version: z.string(), path: z.string(), bytes: z.number().int().nonnegative(), sha256: z.string() }),
  TIMER_FIRED: TimerFiredSchema,
} as const;

export type TunnelEvent = MachineEvents<typeof tunnelEvents>;

