import { v7 as uuidv7 } from 'uuid';
import { buildGateway } from '../gateway/app.js';
import { InProcessLiveBus } from '../services/bus/in-process.js';
import { commandError } from '../services/host/commands.js';
import { InProcessCommandQueue } from '../services/queue/in-process.js';
import type { EventLog, ReadModel } from '../services/store/read-model.js';
import { join } from 'node:path';
import { kindFor } from '../actors/index.js';
import { ActorProjector } from '../services/store/projections.js';
import { EventStore } from '../services/store/event-store.js';
import { benchTempDir } from './lib.js';

/** The latency benches' event: shaped like a PROCESS_EXITED, plus its send time. */
export function probeData(seq: number): Record<string, unknown> {
  return { t0: process.hrtime.bigint().toString(), seq, pid: 40_000 + seq, code: 1, signal: null, cause: 'exit' };
}

/** A Flow gateway over a log (no host: commands are refused), listening on a free port; `url` is its SSE endpoint. */
export async function gatewayOver(log: EventLog & Pick<EventStore, 'actor' | 'actors'>): Promise<{ url: string; close(): Promise<void> }> {
  const live = new InProcessLiveBus();
  const commands = new InProcessCommandQueue({ hostId: 'bench', dispatch: async () => commandError('unavailable', 'the latency bench runs no host') });
  const readModel: ReadModel = {
    listActors: (streamType) => log.actors(streamType),
    getActor: (streamId) => log.actor(streamId),
    outputLines: () => [],
  };
  const app = await buildGateway({ log, readModel, commands, live });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url: `${address}/api/events`,
    async close() {
      await commands.close();
      await app.close();
      await live.close();
    },
  };
}

/** Appends probe event i to `stream`, with the expected version each time (as a host does). */
export function appender(store: EventStore, stream: string): (i: number) => void {
  let version = store.streamVersion(stream);
  return (i) => {
    store.append('bench', stream, version, [{ id: uuidv7(), type: 'PROBE', data: probeData(i), at: new Date().toISOString() }]);
    version += 1;
  };
}

/** What the latency benches call embedded: probe events appended to a log and a gateway reading that same log. */
export async function storeTarget(tag: string, stream: string): Promise<{ url: string; emit(i: number): void; close(): Promise<void> }> {
  const { dir, cleanup } = benchTempDir(tag);
  const store = EventStore.open(join(dir, 'flow.db'), { host: 'bench', projectors: [new ActorProjector(kindFor)], pollMs: 100 });
  const gw = await gatewayOver(store);
  return {
    url: gw.url,
    emit: appender(store, stream),
    async close() {
      await gw.close();
      store.close();
      cleanup();
    },
  };
}
