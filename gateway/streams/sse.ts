import type { EventEnvelope } from '../../services/store/envelope.js';
import type { FastifyReply } from 'fastify';
import type { ServerResponse } from 'node:http';

/**
 * One Server-Sent Events response, written by hand rather than through better-sse or
 * @fastify/sse: both queue writes behind 'drain' (@fastify/sse awaits it per message), which
 * moves an unread client's backlog from the socket into our heap without a bound. Flow's rule
 * is Centrifugo's: count the bytes queued on the socket (`writableLength`) and cut the client
 * off past a cap. That needs the framing (six lines) and the write in our hands.
 */
export interface SseMessage {
  id?: string | number;
  event?: string;
  data: string;
}

export interface SseOptions {
  /** Bytes queued for this client past which it is disconnected. */
  capBytes: number;
  /** Interval of `: ping` comments; 0 turns them off. */
  heartbeatMs: number;
  /** Replay pauses when this many bytes wait to be sent, and goes on at 'drain'. */
  highWaterBytes?: number;
  /**
   * The `retry:` field sent first: how long a browser's EventSource waits before reconnecting
   * (default 2 s; browsers otherwise pick 3-5 s on their own). Reconnects carry Last-Event-ID.
   */
  retryMs?: number;
  /** After an overflow, how long the response may take to flush before the socket is destroyed. */
  closeGraceMs?: number;
}

export const DEFAULT_RETRY_MS = 2000;

const LINE_BREAK = /\r\n|\r|\n/;

/** A field value must not contain a line break, or the client would read two fields. */
function field(value: string | number): string {
  return String(value).replace(/[\r\n]+/g, ' ');
}

export function formatSse(msg: SseMessage): string {
  let out = '';
  if (msg.id !== undefined) out += `id: ${field(msg.id)}\n`;
  if (msg.event !== undefined) out += `event: ${field(msg.event)}\n`;
  for (const line of msg.data.split(LINE_BREAK)) out += `data: ${line}\n`;
  return out + '\n';
}

// The store hands every subscriber the same envelope object for one event, so a frame built
// once per envelope serves all connected clients (1,000 clients: one JSON.stringify, not 1,000).
const envelopeFrames = new WeakMap<EventEnvelope, string>();

/** The SSE frame of a log event: `id:` its position, `data:` the envelope. */
export function envelopeFrame(e: EventEnvelope): string {
  let frame = envelopeFrames.get(e);
  if (frame === undefined) {
    frame = formatSse({ id: e.position, data: JSON.stringify(e) });
    envelopeFrames.set(e, frame);
  }
  return frame;
}

export class SseConnection {
  private readonly raw: ServerResponse;
  private heartbeat: NodeJS.Timeout | null = null;
  private graceTimer: NodeJS.Timeout | null = null;
  private isClosed = false;
  private ending = false;
  private readonly closeCallbacks: (() => void)[] = [];
  private readonly highWater: number;

  private constructor(
    reply: FastifyReply,
    private readonly opts: SseOptions,
    private readonly onSlow: () => void,
  ) {
    this.raw = reply.raw;
    this.highWater = opts.highWaterBytes ?? 64 * 1024;
  }

  /**
   * Takes the response over from Fastify and sends the SSE headers. Hooks have run by now (auth
   * belongs in onRequest), and headers they set with `reply.header()` are kept.
   */
  static open(reply: FastifyReply, opts: SseOptions, onSlow: () => void = () => {}): SseConnection {
    const conn = new SseConnection(reply, opts, onSlow);
    reply.hijack();
    const headers: Record<string, string | number | string[]> = {};
    for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) headers[name] = value;
    conn.raw.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx and friends buffer responses unless told not to; SSE must not be buffered.
      'x-accel-buffering': 'no',
    });
    conn.raw.flushHeaders();
    conn.raw.write(`retry: ${Math.max(0, Math.round(opts.retryMs ?? DEFAULT_RETRY_MS))}\n\n`);
    conn.raw.on('close', () => conn.markClosed());
    conn.raw.on('error', () => conn.markClosed());
    if (opts.heartbeatMs > 0) {
      conn.heartbeat = setInterval(() => conn.ping(), opts.heartbeatMs);
      conn.heartbeat.unref();
    }
    return conn;
  }

  get closed(): boolean {
    return this.isClosed || this.ending;
  }

  /** Bytes written but not yet taken by the kernel. */
  get buffered(): number {
    return this.raw.writableLength;
  }

  /**
   * Queues one message. Returns false if the client is gone or has just been cut off because
   * its queue would pass the cap; the caller stops sending to it.
   */
  send(msg: SseMessage): boolean {
    return this.write(formatSse(msg));
  }

  /** Queues a frame that is already formatted (see envelopeFrame). */
  sendFrame(frame: string): boolean {
    return this.write(frame);
  }

  onClose(cb: () => void): void {
    if (this.isClosed) cb();
    else this.closeCallbacks.push(cb);
  }

  /** True while the queue is short enough for replay to keep writing. */
  hasRoom(): boolean {
    return this.raw.writableLength < this.highWater;
  }

  /** Resolves when the queue has drained or the connection has closed. */
  room(): Promise<void> {
    if (this.closed || this.hasRoom()) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.raw.off('drain', done);
        this.raw.off('close', done);
        resolve();
      };
      this.raw.once('drain', done);
      this.raw.once('close', done);
    });
  }

  /**
   * Disconnects a client that is not keeping up: an `overflow` message if it still fits under
   * the cap (so a client that is merely slow learns why), then the end of the response; a
   * client that reads nothing at all has its socket destroyed after a short grace.
   */
  cutOff(reason: string): void {
    if (this.closed) return;
    this.onSlow();
    const note = formatSse({ event: 'overflow', data: JSON.stringify({ reason, capBytes: this.opts.capBytes }) });
    if (this.raw.writableLength + Buffer.byteLength(note) <= this.opts.capBytes) this.raw.write(note);
    this.end();
  }

  end(): void {
    if (this.closed) return;
    this.ending = true;
    this.stopHeartbeat();
    this.raw.end();
    this.graceTimer = setTimeout(() => this.raw.destroy(), this.opts.closeGraceMs ?? 1000);
    this.graceTimer.unref();
  }

  private write(chunk: string): boolean {
    if (this.closed) return false;
    if (this.raw.writableLength + Buffer.byteLength(chunk) > this.opts.capBytes) {
      this.cutOff(`more than ${this.opts.capBytes} bytes waiting to be sent`);
      return false;
    }
    this.raw.write(chunk);
    return true;
  }

  private ping(): void {
    this.write(': ping\n\n');
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  private markClosed(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.stopHeartbeat();
    if (this.graceTimer) clearTimeout(this.graceTimer);
    for (const cb of this.closeCallbacks.splice(0)) cb();
  }
}
