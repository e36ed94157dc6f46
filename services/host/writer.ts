import { v7 as uuidv7 } from 'uuid';
import type { ActorKind } from '../../actors/kind.js';
import type { EventMeta, EventEnvelope } from '../store/envelope.js';
import type { EventStore } from '../store/event-store.js';
import { fromStored, initialSnapshot, step, type ActionLike, type Snapshot } from '../../actors/fold.js';
import type { FoldHint } from '../store/types.js';

export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError';
}
export class RejectedCommandError extends Error {
  override readonly name = 'RejectedCommandError';
  constructor(
    message: string,
    readonly status: string,
  ) {
    super(message);
  }
}

export interface Recorded {
  envelope: EventEnvelope;
  snapshot: Snapshot;
  actions: ActionLike[];
}

/** Validates `data` against the kind's schema for `type`; returns the parsed data. */
export function validateEventData(kind: ActorKind, type: string, data: unknown): Record<string, unknown> {
  const schema = kind.events[type];
  if (!schema) throw new InvalidEventError(`${kind.streamType} has no event type ${type}`);
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    throw new InvalidEventError(parsed.error.issues.map((i) => `${i.path.join('.') || type}: ${i.message}`).join('; '));
  }
  return parsed.data;
}

/**
 * Persist, then act: folds the event through the machine, and appends it with the resulting
 * snapshot (projection and timers in the same transaction). A command the machine would not
 * accept in its current state is refused and nothing is written; observations are facts and
 * are always recorded. The caller runs the returned actions after this returns.
 */
export function recordEvent(
  store: EventStore,
  kind: ActorKind,
  streamId: string,
  current: { snapshot: Snapshot; version: number },
  event: { type: string; data: unknown; meta?: EventMeta; at: number; id?: string },
): Recorded {
  const data = validateEventData(kind, event.type, event.data);
  const draft = { id: event.id ?? uuidv7(), type: event.type, data, meta: event.meta ?? {}, at: new Date(event.at).toISOString() };
  const [snapshot, actions] = step(kind, current.snapshot, draft);
  const refusal = refusalOf(kind, current.snapshot, { type: event.type, data, at: event.at });
  if (refusal) throw new RejectedCommandError(refusal.reason, refusal.status);
  const hint: FoldHint = { streamId, steps: [{ snapshot, actions }] };
  const [envelope] = store.append(kind.streamType, streamId, current.version, [draft], { hint });
  return { envelope: envelope!, snapshot, actions };
}

/**
 * The host's judgement of a request: none if the machine takes it (or it is an observation,
 * which is a fact and always recorded), else the state and the kind's reason in a user's words.
 * The real host and the simulated one (test/support/given.ts) both ask this.
 */
export function refusalOf(kind: ActorKind, snapshot: Snapshot, event: { type: string; data: Record<string, unknown>; at: number }): { status: string; reason: string } | undefined {
  if (!kind.commands.requests.has(event.type)) return undefined;
  if (snapshot.can({ ...event.data, type: event.type, at: event.at })) return undefined;
  return { status: kind.status(snapshot as never), reason: kind.describe(snapshot as never, event.type, event.data) };
}

/** Loads an actor's current state from the projection (for writers that are not the host). */
export function loadActor(store: EventStore, kind: ActorKind, streamId: string): { snapshot: Snapshot; version: number } {
  const row = store.actor(streamId);
  if (!row) return { snapshot: initialSnapshot(kind), version: 0 };
  return { snapshot: fromStored(kind, row.snapshot), version: row.version };
}
