import { z } from 'zod';
import { realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
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
  /** Seed 003's features API (`/api/features`): on with 1 (or true). */
  FLOW_FEATURES: z.enum(['0', '1', 'true', 'false'], { message: 'FLOW_FEATURES is 1 (on) or 0 (off)' }).optional(),
  /** A user's own frontend served at `/` (seed 003's PUBLIC_DIR, accepted when this is unset). */
  FLOW_PUBLIC_DIR: z.string().min(1).optional(),
  PUBLIC_DIR: z.string().optional(),
  /** Seed 003: open the dashboard in a browser once `f up` is listening. */
  OPEN_BROWSER: z
    .string()
    .regex(/^(true|false|1|0|yes|no|)$/i, 'OPEN_BROWSER is true or false')
    .optional(),
  /** Directories besides the home that the dashboard's directory picker may browse, `:`-separated. */
  FLOW_DIR_ROOTS: z.string().optional(),
  /** `0` turns off the verification of the stored snapshots that f up / f host run in the background after start. */
  FLOW_VERIFY_ON_START: z.enum(['0', '1'], { message: 'FLOW_VERIFY_ON_START is 0 (off) or 1 (on, the default)' }).optional(),
  FLOW_MAX_LINE_BYTES: z.coerce.number().int().min(256, 'FLOW_MAX_LINE_BYTES must be at least 256').max(256 * 1024, 'FLOW_MAX_LINE_BYTES must be at most 262144 (256 KiB)').optional(),
  /** Size past which `$FLOW_HOME/logs/<backend>.log` is rotated (default 10 MiB). */
  FLOW_LOG_MAX_BYTES: z.coerce.number().int().min(1024, 'FLOW_LOG_MAX_BYTES must be at least 1024').optional(),
  /** Log files kept per backend, the current one included (default 3). */
  FLOW_LOG_FILES: z.coerce.number().int().min(1, 'FLOW_LOG_FILES must be at least 1').max(100, 'FLOW_LOG_FILES must be at most 100').optional(),
});

export const DEFAULT_LOG_MAX_BYTES = 10 * 1024 * 1024;
export const DEFAULT_LOG_FILES = 3;

/** Where and how backends' log files are written: `$FLOW_HOME/logs`, FLOW_LOG_MAX_BYTES × FLOW_LOG_FILES. */
export function logFileOptions(home: string, env: NodeJS.ProcessEnv = process.env): { dir: string; maxBytes: number; files: number } {
  const parsed = parseEnv(env);
  return { dir: join(home, 'logs'), maxBytes: parsed.FLOW_LOG_MAX_BYTES ?? DEFAULT_LOG_MAX_BYTES, files: parsed.FLOW_LOG_FILES ?? DEFAULT_LOG_FILES };
}

/** FLOW_ALLOWED_HOSTS, checked (a bad entry stops the start with a message naming it). */
export function allowedHosts(env: NodeJS.ProcessEnv = process.env): AllowedHost[] {
  return parseEnv(env).FLOW_ALLOWED_HOSTS ?? [];
}

/** Whether the features API is on (FLOW_FEATURES=1). */
export function featuresEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = parseEnv(env).FLOW_FEATURES;
  return v === '1' || v === 'true';
}

/**
 * The directory PUBLIC_DIR (or FLOW_PUBLIC_DIR) names, resolved to its real path, or undefined
 * when neither is set. One that is missing or not a directory stops the start, naming it.
 */
export function publicDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const parsed = parseEnv(env);
  const name = parsed.FLOW_PUBLIC_DIR ? 'FLOW_PUBLIC_DIR' : parsed.PUBLIC_DIR ? 'PUBLIC_DIR' : undefined;
  if (!name) return undefined;
  const dir = resolve(env[name]!);
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new Error(`${name}=${env[name]} does not exist: make the directory with your frontend's files (index.html), or unset ${name}`);
  }
  if (!st.isDirectory()) throw new Error(`${name}=${env[name]} is not a directory: it must hold your frontend's files (index.html)`);
  return realpathSync(dir);
}

/** OPEN_BROWSER=true (or 1, yes): open the dashboard when `f up` is ready, as `f up --open` does. */
export function openBrowserWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(true|1|yes)$/i.test(parseEnv(env).OPEN_BROWSER ?? '');
}

/** Where the working-directory picker may browse: the user's home, then FLOW_DIR_ROOTS. */
export function dirRoots(env: NodeJS.ProcessEnv = process.env): string[] {
  const extra = (parseEnv(env).FLOW_DIR_ROOTS ?? '').split(delimiter).filter(Boolean).map((p) => resolve(p));
  return [homedir(), ...extra];
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
