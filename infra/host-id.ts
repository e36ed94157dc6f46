import { hostname } from 'node:os';

/** This host's id in events: FLOW_HOST_ID, else the machine's name made subject-safe. */
export function defaultHostId(env: NodeJS.ProcessEnv = process.env): string {
  return env.FLOW_HOST_ID ?? (hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64) || 'local');
}
