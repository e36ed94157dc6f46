import type { ActorKind } from '../../actors/kind.js';
import { initialSnapshot, step, timerWork, type ActionLike, type Snapshot, type TimerArm } from '../../actors/fold.js';

/**
 * A simulated host for one actor: events in, pure transitions, durable timers kept as data and
 * fired as TIMER_FIRED events when the simulated clock passes them. No wall clock anywhere.
 */
export class Sim {
  snapshot: Snapshot;
  now = 0;
  readonly timers = new Map<string, TimerArm>();
  readonly effects: ActionLike[] = [];
  readonly log: { type: string; data: Record<string, unknown>; at: number }[] = [];

  constructor(readonly kind: ActorKind, start = 1_700_000_000_000) {
    this.snapshot = initialSnapshot(kind);
    this.now = start;
  }

  send(type: string, data: Record<string, unknown> = {}): ActionLike[] {
    return this.apply(type, data);
  }

  /** Moves the clock; every timer due on the way fires at its due time, in order. */
  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const next = [...this.timers.values()].filter((t) => t.dueAt <= until).sort((a, b) => a.dueAt - b.dueAt)[0];
      if (!next) break;
      this.now = Math.max(this.now, next.dueAt);
      this.timers.delete(next.timerId);
      this.apply('TIMER_FIRED', { timerId: next.timerId, event: next.event });
    }
    this.now = until;
  }

  /** The clock jumps (the machine slept): due timers fire late, at the moment of waking. */
  sleep(ms: number): void {
    this.now += ms;
    this.advance(0);
  }

  get value(): unknown {
    return this.snapshot.value;
  }
  get context(): Record<string, unknown> {
    return this.snapshot.context as Record<string, unknown>;
  }
  status(): string {
    return this.kind.status(this.snapshot as never);
  }
  effectNames(): string[] {
    return this.effects.map((a) => a.type).filter((t) => !t.startsWith('xstate.'));
  }
  takeEffects(): string[] {
    const names = this.effectNames();
    this.effects.length = 0;
    return names;
  }
  pendingTimers(): { event: string; dueIn: number }[] {
    return [...this.timers.values()].map((t) => ({ event: t.event.type, dueIn: t.dueAt - this.now }));
  }

  private apply(type: string, data: Record<string, unknown>): ActionLike[] {
    const parsed = type === 'TIMER_FIRED' ? data : (this.kind.events[type]?.parse(data) ?? data);
    const at = this.now;
    this.log.push({ type, data: parsed, at });
    const [next, actions] = step(this.kind, this.snapshot, { type, data: parsed, at: new Date(at).toISOString() });
    this.snapshot = next;
    const work = timerWork(actions, at);
    for (const id of work.cancel) this.timers.delete(id);
    for (const t of work.arm) this.timers.set(t.timerId, t);
    const effects = actions.filter((a) => typeof a.type === 'string' && !a.type.startsWith('xstate.'));
    this.effects.push(...effects);
    return effects;
  }
}
