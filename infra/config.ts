import { z } from 'zod';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** Process-level configuration, from the environment (and CLI flags that override it). */
export const FlowEnvSchema = z.object({
  FLOW_HOME: z.string().min(1).optional(),
  FLOW_URL: z.string().url('FLOW_URL must be a URL such as http://127.0.0.1:3456').optional(),
  FLOW_HOST_ID: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'FLOW_HOST_ID is 1-64 letters, digits, "-" or "_"').optional(),
  FLOW_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  FLOW_BIND: z.string().min(1).optional(),
});

export interface FlowPaths {
  home: string;
  db: string;
  bin: string;
}

export function flowHome(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.FLOW_HOME ?? join(homedir(), '.config', 'flow'));
}

export function flowPaths(env: NodeJS.ProcessEnv = process.env): FlowPaths {
  const home = flowHome(env);
  return { home, db: join(home, 'flow.db'), bin: join(home, 'bin') };
}

export const DEFAULT_PORT = 3456;
export const DEFAULT_BIND = '127.0.0.1';

export function flowUrl(env: NodeJS.ProcessEnv = process.env): string {
  return (env.FLOW_URL ?? `http://${DEFAULT_BIND}:${DEFAULT_PORT}`).replace(/\/+$/, '');
}

export function parseEnv(env: NodeJS.ProcessEnv = process.env): z.infer<typeof FlowEnvSchema> {
  const parsed = FlowEnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new Error(parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`).join('\n'));
  }
  return parsed.data;
}
