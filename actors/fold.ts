import { createActor, initialTransition, type AnyActorScope, type AnyMachineSnapshot, type AnyStateMachine, type EventObject } from 'xstate';
import type { ActorKind } from './kind.js';

/**
 * The pure evolution of an actor: a stored event through its machine's transition. Live
 * (services/host) and replay (the store's actor projection, f events replay) share it, so what
 * the host decides is what a fold of the log gives.
 */
export type Snapshot = AnyMachineSnapshot;

/** What a fold needs of a stored event (an EventEnvelope, or a draft about to be one). */
export interface RecordedEvent {
  type: string;
  data: Record<string, unknown>;
  /** ISO time. */
  at: string;
}

export interface ActionLike {
  type: string;
  params?: unknown;
}

/** The one translation from a stored event to what the machine sees; live and replay share it. */
export function toMachineEvent(e: RecordedEvent): EventObject & { at: number } {
  // The event's own recorded time, parsed: no clock is read.
  // eslint-disable-next-line no-restricted-globals
  const at = Date.parse(e.at);
  if (e.type === 'TIMER_FIRED') {
    const fired = e.data.event as EventObject;
    return { ...fired, at };
  }
  return { ...e.data, type: e.type, at };
}

export function initialSnapshot(kind: ActorKind): Snapshot {
  return initialTransition(kind.machine)[0] as Snapshot;
}

/**
 * XState's `transition()` builds a throw-away actor (and computes its initial state) on every
 * call, which made a fold cost ~100 µs per event. This is the same pure step with one inert
 * scope per machine, reused: actions are collected, never executed; `defer` and `emit` do
 * nothing. Safe because our machines spawn no children (nothing registers in the system).
 */
interface InertScope {
  scope: AnyActorScope;
  sink: ActionLike[];
}
const scopes = new WeakMap<AnyStateMachine, InertScope>();

function inertScope(machine: AnyStateMachine): InertScope {
  let s = scopes.get(machine);
  if (!s) {
    const self = createActor(machine);
    const sink: ActionLike[] = [];
    const scope = {
      self,
      defer: () => {},
      id: '',
      logger: () => {},
      sessionId: '',
      stopChild: () => {},
      system: self.system,
      emit: () => {},
      actionExecutor: (action: ActionLike) => {
        sink.push(action);
      },
    } as unknown as AnyActorScope;
    s = { scope, sink };
    scopes.set(machine, s);
  }
  return s;
}

export function step(kind: ActorKind, snapshot: Snapshot, e: RecordedEvent): [Snapshot, ActionLike[]] {
  const { scope, sink } = inertScope(kind.machine);
  sink.length = 0;
  const next = kind.machine.transition(snapshot, toMachineEvent(e), scope) as Snapshot;
  return [next, sink.slice()];
}

/** Folds events through the machine's pure transition; effects are discarded. */
export function fold(kind: ActorKind, events: Iterable<RecordedEvent>, from?: Snapshot): Snapshot {
  let snap = from ?? initialSnapshot(kind);
  for (const e of events) snap = step(kind, snap, e)[0];
  return snap;
}

export interface StoredSnapshot {
  value: unknown;
  context: unknown;
}

export function toStored(snapshot: Snapshot): StoredSnapshot {
  return { value: snapshot.value, context: snapshot.context };
}

export function fromStored(kind: ActorKind, stored: StoredSnapshot): Snapshot {
  return kind.machine.resolveState(stored as Parameters<ActorKind['machine']['resolveState']>[0]) as Snapshot;
}

export interface TimerArm {
  timerId: string;
  event: EventObject;
  dueAt: number;
}

/** The durable-timer work in a transition's actions: delayed raises to arm, cancels to drop. */
export function timerWork(actions: readonly ActionLike[], atMs: number): { arm: TimerArm[]; cancel: string[] } {
  const arm: TimerArm[] = [];
  const cancel: string[] = [];
  for (const a of actions) {
    const p = a.params as { delay?: number; id?: string; event?: EventObject; sendId?: string } | undefined;
    if (a.type === 'xstate.raise' && p?.delay !== undefined && p.id && p.event) {
      arm.push({ timerId: p.id, event: p.event, dueAt: atMs + p.delay });
    } else if (a.type === 'xstate.cancel' && p?.sendId) {
      cancel.push(p.sendId);
    }
  }
  return { arm, cancel };
}
