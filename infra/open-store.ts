import { existsSync } from 'node:fs';
import { kindFor } from '../actors/index.js';
import { SqliteEventStore } from '../services/store/event-store.js';
import { FeatureProjector } from '../services/features/index.js';
import { ActorProjector } from '../services/store/projections.js';
import { ReplicaLog } from '../services/store/replica.js';
import { flowPaths } from './config.js';
import { defaultHostId } from './host-id.js';

/** Opens $FLOW_HOME/flow.db with the actor and feature projections, as every writer of the log must. */
export function openFlowStore(opts: { host?: string; pollMs?: number; mustExist?: boolean } = {}): SqliteEventStore {
  const { db } = flowPaths();
  if (opts.mustExist && !existsSync(db)) {
    throw new Error(`there is no event log at ${db} yet (run "f up" once, or set FLOW_HOME)`);
  }
  return SqliteEventStore.open(db, { host: opts.host ?? defaultHostId(), projectors: [new ActorProjector(kindFor), new FeatureProjector()], pollMs: opts.pollMs ?? 100 });
}

/** Opens a gateway's replica of FLOW_EVENTS (distributed mode), with the same actor projections. */
export function openReplica(path: string, log?: (line: string) => void): ReplicaLog {
  return new ReplicaLog(SqliteEventStore.open(path, { host: 'gateway', projectors: [new ActorProjector(kindFor), new FeatureProjector()], pollMs: 0 }), log);
}
