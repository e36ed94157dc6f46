import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import type { FlowNames } from './names.js';
import type { LiveBus, LiveHandler } from './types.js';

/**
 * A connection that never gives up: while the server is away, publishes wait in the client's
 * buffer and subscriptions come back on their own when it returns.
 */
export async function connectNats(url: string, name: string): Promise<NatsConnection> {
  try {
    return await connect({ servers: url, name, reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 250, waitOnFirstConnect: false });
  } catch (err) {
    throw new Error(`cannot reach NATS at ${url} (${err instanceof Error ? err.message : String(err)}); start nats-server with JetStream (-js) or set FLOW_NATS_URL`);
  }
}

/** Creates FLOW_EVENTS, or brings its subjects in line if it exists. Safe to race with other processes. */
export async function ensureEventStream(nc: NatsConnection, names: FlowNames): Promise<StreamInfo> {
  const jsm: JetStreamManager = await jetstreamManager(nc);
  for (let attempt = 0; ; attempt++) {
    try {
      const info = await jsm.streams.info(names.stream);
      if (!info.config.subjects?.includes(names.eventsWildcard)) {
        return await jsm.streams.update(names.stream, { subjects: [...(info.config.subjects ?? []), names.eventsWildcard] });
      }
      return info;
    } catch (err) {
      if (!/not found/i.test(String(err))) {
        if (attempt < 20 && /jetstream not enabled|timeout|TIMEOUT|503/i.test(String(err))) {
          await new Promise((r) => setTimeout(r, 250));
          continue;
        }
        throw new Error(`cannot use the JetStream stream ${names.stream}: ${err instanceof Error ? err.message : String(err)} (is JetStream enabled on the server? nats-server -js)`);
      }
    }
    try {
      return await jsm.streams.add({
        name: names.stream,
        subjects: [names.eventsWildcard],
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        // Republishing after a crash is deduplicated by message id for this long.
        duplicate_window: 10 * 60 * 1_000_000_000,
      });
    } catch (err) {
      // Another process created it between our info and add.
      if (!/already in use/i.test(String(err))) throw err;
    }
  }
}

/** Live-only traffic over core NATS: at most once, never stored, gone if nobody listens. */
export class NatsLiveBus implements LiveBus {
  private readonly subs = new Set<Subscription>();
  private readonly encoder = new TextEncoder();

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: FlowNames,
  ) {}

  publish(subject: string, data: unknown): void {
    if (this.nc.isClosed()) return;
    this.nc.publish(this.names.toNats(subject), this.encoder.encode(JSON.stringify(data)));
  }

  subscribe(pattern: string, handler: LiveHandler): () => void {
    const sub = this.nc.subscribe(this.names.toNats(pattern), {
      callback: (err, msg) => {
        if (err) return;
        let data: unknown;
        try {
          data = msg.json();
        } catch {
          return;
        }
        try {
          handler({ subject: this.names.fromNats(msg.subject), data });
        } catch (e) {
          process.emitWarning(`live subscriber failed on ${msg.subject}: ${String(e)}`);
        }
      },
    });
    this.subs.add(sub);
    return () => {
      this.subs.delete(sub);
      sub.unsubscribe();
    };
  }

  async close(): Promise<void> {
    for (const s of this.subs) s.unsubscribe();
    this.subs.clear();
  }
}
