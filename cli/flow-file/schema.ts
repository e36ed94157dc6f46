import { z } from 'zod';
import { BackendNameSchema, BACKEND_POLICY } from '../../actors/backend-child/index.js';
import { InstanceIdSchema } from '../../actors/opencode-instance/index.js';
import { ToolIdSchema } from '../../actors/tool-install/index.js';
import { TunnelNameSchema } from '../../actors/tunnel/index.js';

/**
 * flow.toml: what a project wants running, as PM2's ecosystem file or a compose file says it.
 * Keys are snake_case, as in flow-tool.toml; relative paths are relative to the file's directory.
 * Every table is strict: a misspelt key is an error that names it, never silently ignored.
 */
const words = (example: string) =>
  z.array(z.string().min(1, 'words must not be empty'), { error: `expected an array of words such as ${example}` }).min(1, `expected at least one word (the program to run), such as ${example}`);

const port = z.number({ error: 'expected a port number from 1 to 65535' }).int('expected a whole port number').min(1, 'expected a port number from 1 to 65535').max(65535, 'expected a port number from 1 to 65535');

const ms = (what: string, max: number) => z.number({ error: `expected ${what} in milliseconds` }).int(`expected whole milliseconds`).min(0, 'must not be negative').max(max, `must be at most ${max}`);

export const RestartTableSchema = z
  .object({
    max_restarts: z.number({ error: 'expected a whole number of restarts' }).int().min(0).max(1000).default(BACKEND_POLICY.maxRestarts),
    backoff_ms: ms('the backoff unit (the n-th restart waits n times this)', 3_600_000).default(BACKEND_POLICY.restartDelayUnitMs),
    stable_after_ms: ms('how long a run must last to reset the restart count', 86_400_000).default(BACKEND_POLICY.stableAfterMs),
  })
  .strict();

export const BackendEntrySchema = z
  .object({
    command: words('["node", "server.js"]'),
    cwd: z.string({ error: 'expected a directory (relative to this file)' }).min(1).optional(),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected environment variable names (letters, digits, "_")'), z.string({ error: 'expected a string value (quote numbers: PORT = "80")' }), { error: 'expected a table such as { NODE_ENV = "development" }' }).default({}),
    port: port.optional(),
    watch: z.array(z.string().min(1), { error: 'expected an array of paths such as ["src"]' }).default([]),
    watch_extensions: z.array(z.string().regex(/^\.[A-Za-z0-9]+$/, 'expected extensions such as ".ts"'), { error: 'expected an array such as [".ts", ".js"]' }).optional(),
    stop_grace_ms: ms('the grace between SIGTERM and SIGKILL', 600_000).optional(),
    autostart: z.boolean({ error: 'expected true or false' }).default(true),
    restart: RestartTableSchema.default(RestartTableSchema.parse({})),
  })
  .strict();

export const InstanceEntrySchema = z
  .object({
    directory: z.string({ error: 'expected the project directory opencode serves (relative to this file)' }).min(1),
    start: z.boolean({ error: 'expected true or false' }).default(true),
  })
  .strict();

export const TunnelEntrySchema = z
  .object({
    port,
    command: words('["cloudflared", "tunnel", "--url", "http://localhost:{port}"]').optional(),
  })
  .strict();

export const ToolEntrySchema = z
  .object({
    path: z.string({ error: 'expected the tool directory or its flow-tool.toml (relative to this file)' }).min(1),
  })
  .strict();

const table = <K extends z.ZodType<string>, V extends z.ZodType>(key: K, value: V, what: string) => z.record(key, value, { error: (iss) => (iss.code === 'invalid_type' ? `expected tables such as [${what}.<name>]` : undefined) }).default({} as never);

export const FlowFileSchema = z
  .object({
    version: z.literal(1, { error: 'expected version = 1' }).optional(),
    backends: table(BackendNameSchema, BackendEntrySchema, 'backends'),
    instances: table(InstanceIdSchema, InstanceEntrySchema, 'instances'),
    tunnels: table(TunnelNameSchema, TunnelEntrySchema, 'tunnels'),
    tools: table(ToolIdSchema, ToolEntrySchema, 'tools'),
  })
  .strict();
export type FlowFile = z.infer<typeof FlowFileSchema>;
export type BackendEntry = z.infer<typeof BackendEntrySchema>;
