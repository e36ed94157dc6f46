import type { ActorKind } from '../../actors/kind.js';
import { initialSnapshot, step, timerWork, type ActionLike, type Snapshot } from '../../actors/fold.js';

export interface SimEvent {
  type: string;
  data: Record<string, unknown>;
  at: string;
}

/**
 * A deterministic stand-in for the host, for machine specs: events go through the machine's
 * pure transition, delayed events are kept as timers and fire when simulated time passes them.
 * Everything applied is kept as the log it would have written.
 */
export class SimulatedActor {
  now = 0;
  snapshot: Snapshot;
  readonly log: SimEvent[] = [];
  readonly effects: ActionLike[] = [];
  private timers = new Map<string, { event: { type: string }; dueAt: number }>();

  constructor(
    private readonly kind: ActorKind,
    start = 1_700_000_000_000,
  ) {
    this.now = start;
    this.snapshot = initialSnapshot(kind);
  }

  send(type: string, data: Record<string, unknown> = {}): this {
    this.apply({ type, data, at: new Date(this.now).toISOString() });
    return this;
  }

  /** Moves time forward, firing every timer that falls due, in due order. */
  advance(ms: number): this {
    const end = this.now + ms;
    for (;;) {
      const next = [...this.timers.entries()].sort((a, b) => a[1].dueAt - b[1].dueAt)[0];
      if (!next || next[1].dueAt > end) break;
      this.now = Math.max(this.now, next[1].dueAt);
      this.timers.delete(next[0]);
      this.apply({ type: 'TIMER_FIRED', data: { timerId: next[0], event: next[1].event }, at: new Date(this.now).toISOString() });
    }
    this.now = end;
    return this;
  }

  get state(): string {
    return this.kind.status(this.snapshot as never);
  }

  get context(): Record<string, unknown> {
    return this.snapshot.context as Record<string, unknown>;
  }

  pendingTimers(): { timerId: string; inMs: number }[] {
    return [...this.timers.entries()].map(([timerId, t]) => ({ timerId, inMs: t.dueAt - this.now }));
  }

  /** Effects (named actions) asked for since the last call. */
  takeEffects(): string[] {
    const out = this.effects.map((a) => a.type);
    this.effects.length = 0;
    return out;
  }

  private apply(e: SimEvent): void {
    const [next, actions] = step(this.kind, this.snapshot, e);
    this.snapshot = next;
    this.log.push(e);
    const work = timerWork(actions, Date.parse(e.at));
    for (const id of work.cancel) this.timers.delete(id);
    for (const t of work.arm) this.timers.set(t.timerId, { event: t.event, dueAt: t.dueAt });
    for (const a of actions) if (!a.type.startsWith('xstate.')) this.effects.push(a);
  }
}
