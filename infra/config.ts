import { z } from 'zod';
import { AllowedHostsSchema, type AllowedHost } from '../services/auth/allowed-hosts.js';

export { DEFAULT_BIND, DEFAULT_PORT, flowHome, flowPaths, type FlowPaths } from './locations.js';
export { flowUrl } from './flow-url.js';

/** Process-level configuration, from the environment (and CLI flags that override it). */
export const FlowEnvSchema = z.object({
  FLOW_HOME: z.string().min(1).optional(),
  FLOW_URL: z.string().url('FLOW_URL must be a URL such as http://127.0.0.1:3456').optional(),
  FLOW_HOST_ID: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'FLOW_HOST_ID is 1-64 letters, digits, "-" or "_"').optional(),
  FLOW_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  FLOW_BIND: z.string().min(1).optional(),
  FLOW_NATS_URL: z.string().regex(/^(nats|tls|wss?):\/\/[^\s]+$/, 'FLOW_NATS_URL must look like nats://127.0.0.1:4222').optional(),
  FLOW_REDIS_URL: z.string().regex(/^rediss?:\/\/[^\s]+$/, 'FLOW_REDIS_URL must look like redis://127.0.0.1:6379').optional(),
  FLOW_NATS_PREFIX: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'FLOW_NATS_PREFIX is 1-40 letters, digits, "-" or "_"').optional(),
  FLOW_QUEUE_LOCK_MS: z.coerce.number().int().min(1000).max(600_000).optional(),
  /** Host names the gateway answers to besides loopback: `flow.lan,dev.example.com:8443`. */
  FLOW_ALLOWED_HOSTS: AllowedHostsSchema.optional(),
  // A backend's longest output line (UTF-8 bytes); capped so a line still fits a NATS message.
  FLOW_MAX_LINE_BYTES: z.coerce.number().int().min(256, 'FLOW_MAX_LINE_BYTES must be at least 256').max(256 * 1024, 'FLOW_MAX_LINE_BYTES must be at most 262144 (256 KiB)').optional(),
});

/** FLOW_ALLOWED_HOSTS, checked (a bad entry stops the start with a message naming it). */
export function allowedHosts(env: NodeJS.ProcessEnv = process.env): AllowedHost[] {
  return parseEnv(env).FLOW_ALLOWED_HOSTS ?? [];
}

export interface DistributedUrls {
  natsUrl: string;
  redisUrl: string;
  /** Prefix for NATS subjects, the JetStream stream and BullMQ keys (FLOW_NATS_PREFIX). */
  prefix: string;
}

/**
 * Distributed mode is on when both URLs are given (flags win over the environment); one
 * without the other is a mistake worth saying so.
 */
export function distributedUrls(flags: { nats?: string; redis?: string }, env: NodeJS.ProcessEnv = process.env): DistributedUrls | null {
  const parsed = parseEnv(env);
  const natsUrl = flags.nats ?? parsed.FLOW_NATS_URL;
  const redisUrl = flags.redis ?? parsed.FLOW_REDIS_URL;
  if (!natsUrl && !redisUrl) return null;
  if (!natsUrl || !redisUrl) {
    throw new Error(`distributed mode needs both NATS and Redis: set ${natsUrl ? '--redis (or FLOW_REDIS_URL)' : '--nats (or FLOW_NATS_URL)'} as well`);
  }
  const checked = FlowEnvSchema.pick({ FLOW_NATS_URL: true, FLOW_REDIS_URL: true }).safeParse({ FLOW_NATS_URL: natsUrl, FLOW_REDIS_URL: redisUrl });
  if (!checked.success) throw new Error(checked.error.issues.map((i) => i.message).join('\n'));
  return { natsUrl, redisUrl, prefix: parsed.FLOW_NATS_PREFIX ?? '' };
}

export function parseEnv(env: NodeJS.ProcessEnv = process.env): z.infer<typeof FlowEnvSchema> {
  const parsed = FlowEnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new Error(parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`).join('\n'));
  }
  return parsed.data;
}
