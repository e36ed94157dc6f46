import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { EventStore, Subscription } from '../store/types.js';
import type { FlowNames } from './names.js';

const CHECKPOINT_KEY = 'jetstream.published';

export interface PublisherOptions {
  /** Events sent before waiting for their acks. */
  batch?: number;
  log?: (line: string) => void;
}

/**
 * Drains the host's log to JetStream: the log is the outbox, and the position of the last event
 * JetStream acknowledged is the checkpoint, kept in the same SQLite file. After a crash or an
 * outage it resends from there; the message id (= event id) makes JetStream drop what it already
 * has. A batch is sent in log order on one connection, so each stream's events keep their order.
 */
export class JetStreamPublisher {
  private readonly js: JetStreamClient;
  private readonly batch: number;
  private readonly log: (line: string) => void;
  private readonly encoder = new TextEncoder();
  private sub: Subscription | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private closed = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private acked: number;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(
    private readonly store: EventStore,
    nc: NatsConnection,
    private readonly names: FlowNames,
    opts: PublisherOptions = {},
  ) {
    this.js = jetstream(nc, { timeout: 5000 });
    this.batch = opts.batch ?? 256;
    this.log = opts.log ?? ((line) => process.stderr.write(`[flow publisher] ${line}\n`));
    this.acked = store.readCheckpoint(CHECKPOINT_KEY);
  }

  /** Position of the last event JetStream has acknowledged. */
  get publishedUpTo(): number {
    return this.acked;
  }

  start(): this {
    // Only a wake-up call: what to send is always read from the log after the checkpoint.
    this.sub = this.store.subscribe({ from: this.store.headPosition() }, () => this.kick());
    this.kick();
    return this;
  }

  /** Resolves once everything appended so far is acknowledged. */
  idle(): Promise<void> {
    if (this.acked >= this.store.headPosition()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.sub?.close();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.running?.catch(() => {});
    // Nobody waits for a publisher that will not publish again.
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((err: unknown) => {
        // Reading the log failed (NATS errors are retried inside drain): a closed store ends
        // publishing; anything else is tried again, from the checkpoint, which did not move.
        // Without this catch the rejection would go unhandled and end the process.
        if (this.closed || this.store.closed) return;
        this.log(`could not read the log after position ${this.acked} (${err instanceof Error ? err.message : String(err)}); trying again`);
        this.retryTimer = setTimeout(() => this.kick(), 1000);
      })
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async drain(): Promise<void> {
    while (!this.closed) {
      const events = this.store.readAll(this.acked, this.batch);
      if (events.length === 0) break;
      try {
        await Promise.all(events.map((e) => this.js.publish(this.names.eventSubject(e.streamType, e.streamId), this.encoder.encode(JSON.stringify(e)), { msgID: e.id })));
      } catch (err) {
        this.failures += 1;
        if (this.failures === 1) this.log(`JetStream did not acknowledge events after position ${this.acked} (${err instanceof Error ? err.message : String(err)}); resending until it does`);
        const wait = Math.min(5000, 100 * 2 ** Math.min(this.failures, 6));
        this.retryTimer = setTimeout(() => this.kick(), wait);
        return;
      }
      if (this.failures > 0) this.log(`JetStream is acknowledging again (after ${this.failures} failed attempts)`);
      this.failures = 0;
      this.acked = events[events.length - 1]!.position;
      if (!this.closed) this.store.storeCheckpoint(CHECKPOINT_KEY, this.acked);
    }
    if (this.acked >= this.store.headPosition()) for (const w of this.idleWaiters.splice(0)) w();
  }
}
