import { z } from 'zod';
import {
  WireFileDiffSchema,
  WireHealthSchema,
  WireProvidersSchema,
  WireMessageSchema,
  WirePermissionSchema,
  WireQuestionSchema,
  WireSessionSchema,
  WireStatusMapSchema,
  type WireMessage,
  type WireSession,
} from './wire.js';

/**
 * A client for one `opencode serve` (its V1 routes). Basic auth is added here and never leaves
 * Flow. Every answer is checked: opencode's unknown paths answer its web UI's HTML with 200,
 * so a response that is not JSON is an error, not data; its two error shapes
 * (`{name,data:{message}}` and `{_tag,message}`) become one.
 */
export class OpencodeHttpError extends Error {
  override readonly name = 'OpencodeHttpError';
  constructor(
    /** The status opencode answered, or 0 when it did not answer at all. */
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface OpencodeEndpoint {
  url: string;
  password: string;
  directory: string;
}

export function basicAuth(password: string): string {
  return `Basic ${Buffer.from(`opencode:${password}`).toString('base64')}`;
}

function upstreamMessage(body: unknown, status: number): string {
  if (body && typeof body === 'object') {
    const b = body as { name?: unknown; _tag?: unknown; message?: unknown; data?: { message?: unknown } };
    const msg = typeof b.data?.message === 'string' ? b.data.message : typeof b.message === 'string' ? b.message : null;
    const name = typeof b.name === 'string' ? b.name : typeof b._tag === 'string' ? b._tag : null;
    if (msg) return name ? `${name}: ${msg}` : msg;
    if (name) return name;
  }
  return `opencode answered ${status}`;
}

export class OpencodeClient {
  constructor(readonly endpoint: OpencodeEndpoint) {}

  /** The request, with `?directory=` always set: list semantics differ without it (§2). */
  async request<S extends z.ZodType>(method: string, path: string, schema: S, opts: { body?: unknown; timeoutMs?: number } = {}): Promise<z.output<S>> {
    const u = new URL(path, this.endpoint.url);
    u.searchParams.set('directory', this.endpoint.directory);
    let res: Response;
    try {
      res = await fetch(u, {
        method,
        headers: {
          authorization: basicAuth(this.endpoint.password),
          accept: 'application/json',
          ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000),
      });
    } catch (err) {
      const e = err as Error;
      throw new OpencodeHttpError(0, e.name === 'TimeoutError' ? `opencode did not answer ${method} ${path} in time` : `opencode is unreachable: ${e.message}`);
    }
    if (res.status === 204) return schema.parse(null);
    const type = res.headers.get('content-type') ?? '';
    const text = await res.text();
    if (!type.includes('application/json')) {
      throw new OpencodeHttpError(res.ok ? 502 : res.status, `opencode answered ${method} ${path} with ${type || 'no content type'}, not JSON`);
    }
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      throw new OpencodeHttpError(502, `opencode answered ${method} ${path} with malformed JSON`);
    }
    if (!res.ok) throw new OpencodeHttpError(res.status, upstreamMessage(body, res.status));
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw new OpencodeHttpError(502, `opencode answered ${method} ${path} in an unexpected shape: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    return parsed.data;
  }

  health(timeoutMs = 2000) {
    return this.request('GET', '/global/health', WireHealthSchema, { timeoutMs });
  }

  listSessions(): Promise<WireSession[]> {
    return this.request('GET', '/session', z.array(WireSessionSchema));
  }

  createSession(title?: string): Promise<WireSession> {
    return this.request('POST', '/session', WireSessionSchema, { body: title ? { title } : {} });
  }

  deleteSession(id: string) {
    return this.request('DELETE', `/session/${encodeURIComponent(id)}`, z.unknown());
  }

  statuses() {
    return this.request('GET', '/session/status', WireStatusMapSchema);
  }

  messages(sessionId: string): Promise<WireMessage[]> {
    return this.request('GET', `/session/${encodeURIComponent(sessionId)}/message`, z.array(WireMessageSchema));
  }

  message(sessionId: string, messageId: string): Promise<WireMessage> {
    return this.request('GET', `/session/${encodeURIComponent(sessionId)}/message/${encodeURIComponent(messageId)}`, WireMessageSchema);
  }

  /** opencode's async prompt: 204 at once, the turn runs (or queues) on its side; `model` for this message only. */
  promptAsync(sessionId: string, text: string, model?: { providerID: string; modelID: string }) {
    return this.request('POST', `/session/${encodeURIComponent(sessionId)}/prompt_async`, z.null(), { body: { parts: [{ type: 'text', text }], ...(model ? { model } : {}) } });
  }

  /** The files a turn changed: the diff recorded for the turn's user message. */
  diff(sessionId: string, userMessageId: string) {
    const q = new URLSearchParams({ messageID: userMessageId });
    return this.request('GET', `/session/${encodeURIComponent(sessionId)}/diff?${q}`, z.array(WireFileDiffSchema));
  }

  providers() {
    return this.request('GET', '/config/providers', WireProvidersSchema);
  }

  abort(sessionId: string) {
    return this.request('POST', `/session/${encodeURIComponent(sessionId)}/abort`, z.unknown());
  }

  permissions() {
    return this.request('GET', '/permission', z.array(WirePermissionSchema));
  }

  questions() {
    return this.request('GET', '/question', z.array(WireQuestionSchema));
  }

  replyPermission(requestId: string, reply: 'once' | 'always' | 'reject', message?: string) {
    return this.request('POST', `/permission/${encodeURIComponent(requestId)}/reply`, z.unknown(), { body: message ? { reply, message } : { reply } });
  }

  replyQuestion(requestId: string, answers: string[][]) {
    return this.request('POST', `/question/${encodeURIComponent(requestId)}/reply`, z.unknown(), { body: { answers } });
  }

  rejectQuestion(requestId: string) {
    return this.request('POST', `/question/${encodeURIComponent(requestId)}/reject`, z.unknown());
  }

  /** Aborts running turns cleanly (partial text kept, MessageAbortedError recorded); the server lives on. */
  dispose(timeoutMs = 1000) {
    return this.request('POST', '/global/dispose', z.unknown(), { timeoutMs });
  }
}
