import { join } from 'node:path';
import { kindFor } from '../../actors/index.js';
import { backendChildServices } from '../../services/backend-child/index.js';
import { InProcessLiveBus } from '../../services/bus/in-process.js';
import { ActorProjector } from '../../services/store/projections.js';
import { ActorHost } from '../../services/host/actor-host.js';
import type { Clock } from '../../services/host/effects.js';
import { EventStore } from '../../services/store/event-store.js';
import type { EventEnvelope } from '../../services/store/envelope.js';

/** A wall clock that a test may push forward, to make a real run look longer than it was. */
export class ShiftableClock implements Clock {
  offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
}

export async function startHost(dir: string, clock: Clock = new ShiftableClock()) {
  const store = EventStore.open(join(dir, 'flow.db'), { host: 'test', projectors: [new ActorProjector(kindFor)], pollMs: 0 });
  const live = new InProcessLiveBus();
  const backends = backendChildServices({ live });
  const lines: string[] = [];
  const host = await ActorHost.start({ store, live, services: [backends], clock, log: (l) => lines.push(l) });
  return {
    store,
    live,
    host,
    backends,
    lines,
    async close() {
      await host.stop();
      store.close();
    },
  };
}

/** Waits until `pred` holds for the stream's events, polling; returns them. */
export async function waitForEvents(store: EventStore, streamId: string, pred: (events: EventEnvelope[]) => boolean, timeoutMs = 20_000): Promise<EventEnvelope[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events = store.readStream(streamId);
    if (pred(events)) return events;
    if (Date.now() > deadline) throw new Error(`timed out; ${streamId} has: ${events.map((e) => e.type).join(', ')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const CRASHY = join(process.cwd(), 'test/fixtures/crashy.mjs');
