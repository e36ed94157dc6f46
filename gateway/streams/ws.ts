import type { EventEnvelope } from '../../services/store/envelope.js';
import type { WebSocket } from 'ws';

/** Close codes Flow uses (4000-4999 are the application's). */
export const WS_CLOSE = {
  /** The client let more than the cap pile up unread (Centrifugo's 3008 "slow", moved to our range). */
  slow: { code: 4008, reason: 'slow' },
  /** Flow is shutting down. */
  goingAway: { code: 1001, reason: 'server shutting down' },
} as const;

export interface WsOptions {
  capBytes: number;
  /** Ping interval; a client that has not answered the previous ping by the next one is dropped. */
  heartbeatMs: number;
  highWaterBytes?: number;
  closeGraceMs?: number;
}

/**
 * One WebSocket client with what @fastify/websocket leaves to us: a ping/pong heartbeat (the
 * `ws` README's isAlive pattern) and a bound on bytes queued for it (`bufferedAmount`, which
 * counts both ws's own queue and the socket's).
 */
const envelopeTexts = new WeakMap<EventEnvelope, string>();

/** `{"type":"event","position":N,"event":<envelope>}`, built once per envelope. */
export function envelopeText(e: EventEnvelope): string {
  let text = envelopeTexts.get(e);
  if (text === undefined) {
    text = JSON.stringify({ type: 'event', position: e.position, event: e });
    envelopeTexts.set(e, text);
  }
  return text;
}

export class WsConnection {
  private alive = true;
  private heartbeat: NodeJS.Timeout | null = null;
  private graceTimer: NodeJS.Timeout | null = null;
  private closing = false;
  private waiters: (() => void)[] = [];
  private readonly highWater: number;
  private readonly onFlushed = (): void => this.wakeIfRoom();

  constructor(
    private readonly socket: WebSocket,
    private readonly opts: WsOptions,
    private readonly onSlow: () => void = () => {},
  ) {
    this.highWater = opts.highWaterBytes ?? 64 * 1024;
    socket.on('pong', () => {
      this.alive = true;
    });
    socket.on('close', () => this.dispose());
    if (opts.heartbeatMs > 0) {
      this.heartbeat = setInterval(() => this.beat(), opts.heartbeatMs);
      this.heartbeat.unref();
    }
  }

  get closed(): boolean {
    return this.closing || this.socket.readyState !== this.socket.OPEN;
  }

  /** Queues one JSON message; false if the client is gone or was just cut off for being slow. */
  send(message: unknown): boolean {
    return this.sendText(JSON.stringify(message));
  }

  /** A log event, serialized once per envelope for all clients (see envelopeText). */
  sendEvent(e: EventEnvelope): boolean {
    return this.sendText(envelopeText(e));
  }

  /** Queues a message that is already JSON text (built once for many clients). */
  sendText(text: string): boolean {
    if (this.closed) return false;
    if (this.socket.bufferedAmount + Buffer.byteLength(text) > this.opts.capBytes) {
      this.cutOff();
      return false;
    }
    this.socket.send(text, this.onFlushed);
    return true;
  }

  hasRoom(): boolean {
    return this.socket.bufferedAmount < this.highWater;
  }

  room(): Promise<void> {
    if (this.closed || this.hasRoom()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Closes with 4008 "slow"; a client that reads nothing never completes the close handshake, so it is terminated after a grace. */
  cutOff(): void {
    if (this.closed) return;
    this.onSlow();
    this.close(WS_CLOSE.slow.code, WS_CLOSE.slow.reason);
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.stopHeartbeat();
    this.socket.close(code, reason);
    this.graceTimer = setTimeout(() => this.socket.terminate(), this.opts.closeGraceMs ?? 1000);
    this.graceTimer.unref();
  }

  private beat(): void {
    if (!this.alive) {
      // No pong since the last ping: the peer or the path to it is gone.
      this.socket.terminate();
      return;
    }
    this.alive = false;
    this.socket.ping();
  }

  private wakeIfRoom(): void {
    if (this.waiters.length === 0 || !(this.closed || this.hasRoom())) return;
    for (const w of this.waiters.splice(0)) w();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  private dispose(): void {
    this.closing = true;
    this.stopHeartbeat();
    if (this.graceTimer) clearTimeout(this.graceTimer);
    for (const w of this.waiters.splice(0)) w();
  }
}
