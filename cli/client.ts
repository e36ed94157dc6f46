import { readFileSync } from 'node:fs';
import type { IncomingMessage, RequestOptions } from 'node:http';
import { join } from 'node:path';
import { flowUrl } from '../infra/flow-url.js';
import { flowHome } from '../infra/locations.js';
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

let base: string | undefined;

/** A Flow other than the one apiBase() finds (f up applying its own flow.toml), and what to say when it does not answer. */
export interface FlowAt {
  base: string;
  notRunning: string;
}

/** The running Flow's URL (see flowUrl: FLOW_URL, the lock file, FLOW_PORT), found once per command. */
export function apiBase(): string {
  return (base ??= flowUrl());
}

export function notRunning(at: string): string {
  return notRunningMessage(at);
}

/** node:http or node:https, as the URL says; loaded on first use. */
const httpFor = (url: URL) => (url.protocol === 'https:' ? import('node:https') : import('node:http'));

/**
 * Opens a request to the running Flow and hands back the response as it starts. node:http, not
 * fetch: fetch's first use loads undici, which costs a CLI command about as much as the rest of
 * it (bench/cli-overhead.ts).
 */
export async function request(method: string, path: string, opts: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal; at?: FlowAt } = {}): Promise<IncomingMessage> {
  const base = opts.at?.base ?? apiBase();
  const url = new URL(base + path);
  const { request: send } = await httpFor(url);
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const init: RequestOptions = {
    method,
    headers: { ...authHeaders(), ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }), ...opts.headers },
    signal: opts.signal,
  };
  return new Promise((resolve, reject) => {
    const req = send(url, init, resolve);
    req.on('error', (err) => reject(opts.signal?.aborted ? err : new FlowApiError(opts.at?.notRunning ?? notRunning(base), 0)));
    req.end(payload);
  });
}

async function readBody(res: IncomingMessage): Promise<string> {
  res.setEncoding('utf8');
  let text = '';
  for await (const chunk of res) text += chunk as string;
  return text;
}

/** Calls the running Flow's API; says plainly when nothing answers there, and prints the server's own message on a refusal. */
export async function api<T>(method: string, path: string, body?: unknown, at?: FlowAt): Promise<T> {
  const res = await request(method, path, { body, at });
  const text = await readBody(res);
  let parsed: unknown;
  try {
    parsed = text ? (JSON.parse(text) as unknown) : undefined;
  } catch {
    throw new FlowApiError(`${at?.base ?? apiBase()}${path} answered ${res.statusCode} with something that is not JSON: is FLOW_URL a Flow?`, res.statusCode ?? 0);
  }
  const status = res.statusCode ?? 0;
  if (status < 200 || status >= 300) {
    const msg = (parsed as { error?: { message?: string } } | undefined)?.error?.message ?? `${status} ${res.statusMessage ?? ''}`.trim();
    throw new FlowApiError(msg, status);
  }
  return parsed as T;
}

/** Whether a Flow answers its health check at `url` within the time (its gateway is up). */
export async function answersHealth(url: string, timeoutMs: number): Promise<boolean> {
  let target: URL;
  try {
    target = new URL('/api/health', url);
  } catch {
    return false;
  }
  const { get } = await httpFor(target);
  return new Promise((resolve) => {
    const req = get(target, { signal: AbortSignal.timeout(timeoutMs) }, (res) => {
      res.resume();
      resolve(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300);
    });
    req.on('error', () => resolve(false));
  });
}
