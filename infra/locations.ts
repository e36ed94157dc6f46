import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * Where Flow keeps its files and where it listens by default. Kept apart from config.ts (the
 * zod-checked environment) so a CLI command that only talks HTTP never loads zod.
 */
export interface FlowPaths {
  home: string;
  db: string;
  /** The gateway's replica of the JetStream stream (distributed mode). */
  gatewayDb: string;
  bin: string;
}

export function flowHome(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.FLOW_HOME ?? join(homedir(), '.config', 'flow'));
}

export function flowPaths(env: NodeJS.ProcessEnv = process.env): FlowPaths {
  const home = flowHome(env);
  return { home, db: join(home, 'flow.db'), gatewayDb: join(home, 'gateway.db'), bin: join(home, 'bin') };
}

export const DEFAULT_PORT = 3456;
export const DEFAULT_BIND = '127.0.0.1';

