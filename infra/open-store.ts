import { existsSync } from 'node:fs';
import { kindFor } from '../actors/index.js';
import { ActorProjector } from '../services/host/actor-projection.js';
import { EventStore } from '../services/store/event-store.js';
import { flowPaths } from './config.js';
import { defaultHostId } from './host-id.js';

/** Opens $FLOW_HOME/flow.db with the actor projections, as every writer of the log must. */
export function openFlowStore(opts: { host?: string; pollMs?: number; mustExist?: boolean } = {}): EventStore {
  const { db } = flowPaths();
  if (opts.mustExist && !existsSync(db)) {
    throw new Error(`there is no event log at ${db} yet (run "f up" once, or set FLOW_HOME)`);
  }
  return EventStore.open(db, { host: opts.host ?? defaultHostId(), projectors: [new ActorProjector(kindFor)], pollMs: opts.pollMs ?? 100 });
}
