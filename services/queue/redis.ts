import type { RedisOptions } from 'bullmq';

/** ioredis options from a redis:// URL (host, port, password, db number in the path). */
export function redisOptions(url: string): RedisOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`FLOW_REDIS_URL must be a URL such as redis://127.0.0.1:6379, not ${JSON.stringify(url)}`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`FLOW_REDIS_URL must start with redis:// or rediss://, not ${u.protocol}//`);
  const db = u.pathname.replace(/^\//, '');
  return {
    host: u.hostname || '127.0.0.1',
    port: Number(u.port || 6379),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(db ? { db: Number(db) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    // Reconnect for ever, a little slower each time, never more than 2 s apart.
    retryStrategy: (times: number) => Math.min(100 * times, 2000),
  };
}

/** Rejects with `message` if `p` has not settled in `ms`: nothing waits on Redis for ever. */
export function within<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(message)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(t);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
