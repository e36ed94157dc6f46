import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, type ConsumerMessages } from '@nats-io/jetstream';
import type { ReplicaLog, Delivered } from '../store/replica.js';
import type { FlowNames } from './names.js';
import { ensureEventStream } from './nats.js';

export class StreamReplacedError extends Error {
  constructor(
    readonly was: string,
    readonly now: string,
  ) {
    super(`the JetStream stream was replaced (${was} → ${now}); the replica must be rebuilt from it`);
  }
}

const FLUSH_AT = 1000;

/**
 * Feeds a replica from FLOW_EVENTS with an ordered consumer that starts right after the
 * replica's checkpoint. The client library recreates the consumer from the last sequence it
 * delivered when the server goes away and comes back. Messages that arrive together are
 * applied in one transaction.
 */
export class JetStreamFeed {
  private messages: ConsumerMessages | null = null;
  private buffer: Delivered[] = [];
  private flushScheduled = false;
  private loop: Promise<void> | null = null;
  private closed = false;
  /** Set from a failed batch until the consumer is recreated: nothing after that batch may be applied. */
  private halted = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: FlowNames,
    private readonly replica: ReplicaLog,
    private readonly log: (line: string) => void = (line) => process.stderr.write(`[flow feed] ${line}\n`),
  ) {}

  /** Throws StreamReplacedError when the replica was built from a stream that no longer exists. */
  async start(): Promise<void> {
    const info = await ensureEventStream(this.nc, this.names);
    const source = `${info.config.name}@${info.created}`;
    const was = this.replica.source;
    if (was && was !== source) throw new StreamReplacedError(was, source);
    if (!was) this.replica.setSource(source);
    const from = this.replica.checkpoint + 1;
    const consumer = await jetstream(this.nc).consumers.get(this.names.stream, { opt_start_seq: from });
    // Short pulls: a server that went away is noticed (missed heartbeats) within seconds, not 30 s.
    this.messages = await consumer.consume({ expires: 2000 });
    const messages = this.messages;
    this.loop = (async () => {
      for await (const m of messages) {
        let body: unknown;
        try {
          body = m.json();
        } catch {
          body = null;
        }
        this.buffer.push({ seq: m.seq, body });
        if (this.buffer.length >= FLUSH_AT) this.flush();
        else if (!this.flushScheduled) {
          this.flushScheduled = true;
          setImmediate(() => this.flush());
        }
      }
    })().catch((err: unknown) => {
      if (!this.closed) this.log(`stopped reading ${this.names.stream}: ${err instanceof Error ? err.message : String(err)}`);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.messages?.close();
    await this.loop;
    this.flush();
  }

  private flush(): void {
    this.flushScheduled = false;
    // Messages that follow a batch that failed are read again from the checkpoint; applying
    // them now would move the checkpoint past the failed batch and lose it for good.
    if (this.halted) this.buffer = [];
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    try {
      const r = this.replica.ingest(batch);
      if (r.parked > 0) this.log(`${r.parked} event(s) arrived ahead of a gap in their stream; holding them until it fills`);
    } catch (err) {
      // The replica did not move: resume from its checkpoint rather than skip what failed.
      this.log(`could not apply messages ${batch[0]!.seq}-${batch[batch.length - 1]!.seq}: ${err instanceof Error ? err.message : String(err)}`);
      this.halted = true;
      if (!this.closed) void this.restart();
    }
  }

  private async restart(): Promise<void> {
    await this.messages?.close();
    await this.loop;
    this.buffer = [];
    // Until it works: a feed that gave up would leave the gateway serving an ever older log.
    for (let attempt = 0; !this.closed; attempt++) {
      await new Promise((r) => setTimeout(r, Math.min(30_000, 1000 * 2 ** Math.min(attempt, 5))));
      this.halted = false;
      if (this.closed) return;
      try {
        await this.start();
        return;
      } catch (err) {
        this.log(`could not resume reading ${this.names.stream} (attempt ${attempt + 1}): ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}
