import type { ActorKind } from '../../actors/kind.js';
import { fold, fromStored, initialSnapshot, toStored, type Snapshot } from '../../actors/fold.js';
import { machineVersion } from '../store/machine-version.js';
import type { RecoveryHead } from '../store/recovery.js';
import type { EventStore } from '../store/types.js';

/** An actor as recovery found it: its snapshot at `version`, and the id of its last event. */
export interface RecoveredActor {
  streamId: string;
  streamType: string;
  snapshot: Snapshot;
  version: number;
  eventId: string;
}

/** Why a stream was folded from its start instead of from its stored snapshot. */
export type Untrusted = 'no snapshot' | 'older machine' | 'unreadable snapshot' | 'snapshot ahead of the log';

export interface Recovery {
  actors: RecoveredActor[];
  /** Streams whose stored projection was not trusted: folded from the start, and their projection rewritten. */
  refolded: { streamId: string; why: Untrusted }[];
  /** Events read from the log (0 when every snapshot was current). */
  eventsRead: number;
}

/**
 * Starts every actor from its stored snapshot (the projection row, written in the same
 * transaction as each event, is the fold at its version) and folds only the events after it:
 * normally none, so start-up reads O(actors) rows. A snapshot folded by another version of
 * the machine, one that cannot be read, or none at all is not trusted: that stream is folded
 * from the start and its projection rebuilt from the log.
 */
export function recoverActors(store: EventStore, kindOf: (streamType: string) => ActorKind | undefined): Recovery {
  const actors: RecoveredActor[] = [];
  const refolded: Recovery['refolded'] = [];
  const behind: string[] = [];
  let eventsRead = 0;
  for (const head of store.recoveryHeads()) {
    const kind = kindOf(head.streamType);
    if (!kind) continue;
    const start = trustedStart(kind, head);
    let snapshot: Snapshot;
    if ('snapshot' in start) {
      snapshot = start.snapshot;
      if (start.version < head.version) {
        // A projection behind its stream (written by a writer without the actor projector).
        const tail = store.readStream(head.streamId, start.version + 1);
        eventsRead += tail.length;
        snapshot = fold(kind, tail, snapshot);
        behind.push(head.streamId);
      }
    } else {
      const events = store.readStream(head.streamId);
      eventsRead += events.length;
      snapshot = fold(kind, events);
      refolded.push({ streamId: head.streamId, why: start.why });
    }
    actors.push({ streamId: head.streamId, streamType: head.streamType, snapshot, version: head.version, eventId: head.lastEventId });
  }
  // The log wins: each untrusted projection is folded again from its stream, one at a time.
  for (const id of [...refolded.map((r) => r.streamId), ...behind]) store.rebuildStream(id);
  return { actors, refolded, eventsRead };
}

function trustedStart(kind: ActorKind, head: RecoveryHead): { snapshot: Snapshot; version: number } | { why: Untrusted } {
  const row = head.row;
  if (!row) return head.version === 0 ? { snapshot: initialSnapshot(kind), version: 0 } : { why: 'no snapshot' };
  if (row.machine !== machineVersion(kind)) return { why: 'older machine' };
  if (row.version > head.version) return { why: 'snapshot ahead of the log' };
  try {
    return { snapshot: fromStored(kind, row.snapshot), version: row.version };
  } catch {
    return { why: 'unreadable snapshot' };
  }
}

/**
 * One actor folded from its whole stream, and whether its stored projection agrees; when it
 * does not, the projection is rebuilt from the log. The background verifier's repair runs this
 * in the host's queue, so no event can land between the fold and the rewrite.
 */
export function refoldActor(store: EventStore, kind: ActorKind, streamId: string): { actor: RecoveredActor; repaired: boolean } | undefined {
  const events = store.readStream(streamId);
  const last = events[events.length - 1];
  if (!last) return undefined;
  const snapshot = fold(kind, events);
  const row = store.actor(streamId);
  const agrees = row !== undefined && row.version === last.version && row.machine === machineVersion(kind) && JSON.stringify(row.snapshot) === JSON.stringify(toStored(snapshot));
  if (!agrees) store.rebuildStream(streamId);
  return { actor: { streamId, streamType: last.streamType, snapshot, version: last.version, eventId: last.id }, repaired: !agrees };
}
