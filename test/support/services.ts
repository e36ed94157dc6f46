import { connect as tcpConnect } from 'node:net';
import { randomBytes } from 'node:crypto';
import type * as Testcontainers from 'testcontainers';
import { deletePrefix } from '../../services/bus/prefix-cleanup.js';

/**
 * Redis and NATS for the distributed tests, found as DESIGN.md says: FLOW_REDIS_URL /
 * FLOW_NATS_URL; else containers started by testcontainers where a Docker engine answers; else
 * 127.0.0.1:6379 and :4222. Under CI=true a service that cannot be found fails the run.
 */
export interface ServiceUrls {
  natsUrl: string;
  redisUrl: string;
  /** Where the URLs came from, for the test log. */
  source: 'env' | 'testcontainers' | 'localhost';
}

let found: Promise<ServiceUrls | null> | null = null;
const stops: (() => Promise<unknown>)[] = [];

function reachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function fromContainers(): Promise<ServiceUrls | null> {
  let tc: typeof Testcontainers;
  try {
    tc = await import('testcontainers');
    await tc.getContainerRuntimeClient();
  } catch {
    return null; // no Docker engine answers here
  }
  const nats = await new tc.GenericContainer('nats:2.10').withCommand(['-js']).withExposedPorts(4222).start();
  const redis = await new tc.GenericContainer('redis:7').withExposedPorts(6379).start();
  stops.push(() => nats.stop(), () => redis.stop());
  return {
    natsUrl: `nats://${nats.getHost()}:${nats.getMappedPort(4222)}`,
    redisUrl: `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`,
    source: 'testcontainers',
  };
}

async function find(): Promise<ServiceUrls | null> {
  const env = process.env;
  if (env.FLOW_NATS_URL && env.FLOW_REDIS_URL) return { natsUrl: env.FLOW_NATS_URL, redisUrl: env.FLOW_REDIS_URL, source: 'env' };
  const containers = await fromContainers();
  if (containers) return containers;
  const [nats, redis] = await Promise.all([reachable('127.0.0.1', 4222), reachable('127.0.0.1', 6379)]);
  if (nats && redis) return { natsUrl: 'nats://127.0.0.1:4222', redisUrl: 'redis://127.0.0.1:6379', source: 'localhost' };
  const missing = [!nats && 'NATS (127.0.0.1:4222)', !redis && 'Redis (127.0.0.1:6379)'].filter(Boolean).join(' and ');
  if (env.CI === 'true' || env.CI === '1') {
    throw new Error(`distributed tests need ${missing}: set FLOW_NATS_URL and FLOW_REDIS_URL, run a Docker engine, or start them locally (CI never skips these tests)`);
  }
  process.stderr.write(`\n[flow tests] SKIPPING distributed tests: ${missing} not reachable, no Docker engine, no FLOW_*_URL\n`);
  return null;
}

/** The services, or null (locally, never under CI) when none can be found. */
export function serviceUrls(): Promise<ServiceUrls | null> {
  return (found ??= find());
}

/** Stops containers this process started (none when the services came from env or localhost). */
export async function stopServices(): Promise<void> {
  await Promise.all(stops.splice(0).map((s) => s().catch(() => {})));
}

/** A name prefix no other test file or run shares (FLOW_NATS_PREFIX; BullMQ keys follow it). */
export function uniquePrefix(tag = 't'): string {
  return `${tag}${process.pid}${randomBytes(4).toString('hex')}`;
}

/** Deletes what a prefix left on the servers: its JetStream stream and its BullMQ keys. */
export async function cleanupPrefix(urls: ServiceUrls, prefix: string): Promise<void> {
  await deletePrefix(urls, prefix);
}
