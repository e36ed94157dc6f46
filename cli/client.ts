import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { flowHome, flowUrl } from '../infra/config.js';
import { notRunningMessage } from './not-running.js';

/** Where `f auth login` keeps the gateway token (readable by its owner only). */
export function tokenFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(flowHome(env), 'auth', 'token');
}

/** FLOW_TOKEN wins over the file `f auth login` wrote; no token → no header (a gateway without a password). */
export function authHeaders(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  let token = env.FLOW_TOKEN?.trim();
  if (!token) {
    try {
      token = readFileSync(tokenFile(env), 'utf8').trim();
    } catch {
      token = undefined;
    }
  }
  return token ? { authorization: `Bearer ${token}` } : {};
}

export class FlowApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** Calls the running Flow's API at FLOW_URL; says plainly when nothing answers there. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const base = flowUrl();
  let res: Response;
  try {
    res = await fetch(base + path, {
      method,
      headers: { ...authHeaders(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new FlowApiError(notRunningMessage(base), 0);
  }
  const text = await res.text();
  const parsed = text ? (JSON.parse(text) as unknown) : undefined;
  if (!res.ok) {
    const msg = (parsed as { error?: { message?: string } } | undefined)?.error?.message ?? `${res.status} ${res.statusText}`;
    throw new FlowApiError(msg, res.status);
  }
  return parsed as T;
}

export function apiBase(): string {
  return flowUrl();
}
