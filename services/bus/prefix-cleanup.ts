import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { flowNames } from './names.js';

/**
 * Deletes everything a name prefix (FLOW_NATS_PREFIX) left on the servers: its JetStream stream
 * and its BullMQ keys. For tests and benchmarks that share one NATS and one Redis; a server that
 * is not there has nothing to clean.
 */
export async function deletePrefix(urls: { natsUrl: string; redisUrl: string }, prefix: string): Promise<void> {
  const names = flowNames(prefix);
  const nc = await connect({ servers: urls.natsUrl, reconnect: false }).catch(() => null);
  if (nc) {
    try {
      await (await jetstreamManager(nc)).streams.delete(names.stream).catch(() => {});
    } finally {
      await nc.close();
    }
  }
  const redis = new Redis(urls.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${names.bullPrefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } catch {
    // Redis is down: it holds nothing we could reach
  } finally {
    redis.disconnect();
  }
}
