import { flowUrl } from '../infra/config.js';

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
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new FlowApiError(`Flow is not running at ${base} (start it with "f up", or set FLOW_URL)`, 0);
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
