import { expect } from 'vitest';
import { initialSnapshot, step, timerWork, type ActionLike, type RecordedEvent, type Snapshot, type TimerArm } from '../../actors/fold.js';
import { commandRouter, commandType, type AnyKind } from '../../actors/kind.js';
import { refusalOf, validateEventData } from '../../services/host/writer.js';

/** An event as a spec writes it: its type and its data, flat (`{ type: 'PROCESS_EXITED', pid: 1, ... }`). */
export type Input = { type: string } & Record<string, unknown>;

/**
 * The one simulated host, for machine specs: what the real host does with an event, minus I/O.
 * Data is validated and requests are judged by the host's own code (services/host/writer.ts),
 * so a refused request writes nothing here either; transitions are XState's pure step; delayed
 * events are timers kept as data that fire (as TIMER_FIRED) when the simulated clock passes
 * them. No wall clock anywhere. Everything accepted is kept as the log the host would write.
 */
export class SimulatedHost {
  now: number;
  snapshot: Snapshot;
  readonly log: RecordedEvent[] = [];
  readonly timers = new Map<string, TimerArm>();
  /** Effects (named actions) asked for, oldest first; takeEffects() empties it. */
  readonly effects: ActionLike[] = [];
  /** The last refusal, if the last request was refused. */
  refusal: string | undefined;

  constructor(
    readonly kind: AnyKind,
    start = 1_700_000_000_000,
  ) {
    this.now = start;
    this.snapshot = initialSnapshot(kind);
  }

  /** An event (a request or an observation) as the host would take it. */
  send(type: string, data: Record<string, unknown> = {}): this {
    this.apply(type, data);
    return this;
  }

  /** A client command: through the kind's toEvent(), then as send(). */
  command(command: Input): this {
    const routed = commandRouter([this.kind])(command);
    if (!routed) throw new Error(`${this.kind.streamType} takes no command ${command.type}`);
    return this.send(routed.event.type, routed.event.data);
  }

  /** Moves the clock; every timer due on the way fires at its due time, in order. */
  advance(ms: number): this {
    const until = this.now + ms;
    for (;;) {
      const next = [...this.timers.values()].filter((t) => t.dueAt <= until).sort((a, b) => a.dueAt - b.dueAt)[0];
      if (!next) break;
      this.now = Math.max(this.now, next.dueAt);
      this.timers.delete(next.timerId);
      this.apply('TIMER_FIRED', { timerId: next.timerId, event: next.event });
    }
    this.now = until;
    return this;
  }

  /** The clock jumps (the machine slept): due timers fire late, at the moment of waking. */
  sleep(ms: number): this {
    this.now += ms;
    return this.advance(0);
  }

  /** The kind's status word. */
  get state(): string {
    return this.kind.status(this.snapshot);
  }
  get value(): unknown {
    return this.snapshot.value;
  }
  get context(): Record<string, unknown> {
    return this.snapshot.context as Record<string, unknown>;
  }

  /** Effects asked for since the last call. */
  takeEffects(): string[] {
    const names = this.effects.map((a) => a.type);
    this.effects.length = 0;
    return names;
  }

  pendingTimers(): { timerId: string; event: string; inMs: number }[] {
    return [...this.timers.values()].map((t) => ({ timerId: t.timerId, event: t.event.type, inMs: t.dueAt - this.now }));
  }

  private apply(type: string, raw: Record<string, unknown>): void {
    const data = type === 'TIMER_FIRED' ? raw : validateEventData(this.kind, type, raw);
    const refusal = refusalOf(this.kind, this.snapshot, { type, data, at: this.now });
    this.refusal = refusal?.reason;
    if (refusal) return;
    const e: RecordedEvent = { type, data, at: new Date(this.now).toISOString() };
    const [next, actions] = step(this.kind, this.snapshot, e);
    this.snapshot = next;
    this.log.push(e);
    const work = timerWork(actions, this.now);
    for (const id of work.cancel) this.timers.delete(id);
    for (const t of work.arm) this.timers.set(t.timerId, t);
    for (const a of actions) if (!a.type.startsWith('xstate.')) this.effects.push(a);
  }
}

export interface Expected {
  /** The status word after the input. */
  state?: string;
  /** Exactly the effects the input asked for, in order. */
  effects?: string[];
  /** Fields the context must have (a partial match). */
  context?: Record<string, unknown>;
}

/** What a `when` led to; then() and thenRejected() check it and hand the host back to go on with. */
export class Outcome {
  constructor(
    readonly host: SimulatedHost,
    private readonly effects: string[],
  ) {}

  then(expected: Expected): SimulatedHost {
    expect(this.host.refusal, 'the input was refused').toBeUndefined();
    if (expected.state !== undefined) expect(this.host.state).toBe(expected.state);
    if (expected.effects !== undefined) expect(this.effects).toEqual(expected.effects);
    if (expected.context !== undefined) expect(this.host.context).toMatchObject(expected.context);
    return this.host;
  }

  /** The host refused the input with this reason (the words of its 409), and nothing was written. */
  thenRejected(reason: string | RegExp): SimulatedHost {
    expect(this.host.refusal, 'the input was taken').toBeDefined();
    if (typeof reason === 'string') expect(this.host.refusal).toBe(reason);
    else expect(this.host.refusal).toMatch(reason);
    expect(this.effects).toEqual([]);
    return this.host;
  }
}

/** A spec's starting point: a kind with a history already applied (commands or events). */
export class Given {
  constructor(readonly host: SimulatedHost) {}

  /** Lets simulated time pass before the input. */
  after(ms: number): this {
    this.host.advance(ms);
    return this;
  }

  when(input: Input): Outcome {
    this.host.takeEffects();
    feed(this.host, input);
    return new Outcome(this.host, this.host.takeEffects());
  }
}

function feed(host: SimulatedHost, input: Input): void {
  const { type, ...data } = input;
  if (isCommandType(host.kind, type)) host.command(input);
  else host.send(type, data);
}

function isCommandType(kind: AnyKind, type: string): boolean {
  return kind.commands.schemas.some((s) => commandType(s) === type);
}

/**
 * `given(kind, history).when(input).then({ state, effects })` or `.thenRejected(reason)`.
 * History and input are commands (`{ type: 'backend.start', name: 'api' }`) or events
 * (`{ type: 'PROCESS_EXITED', pid: 100, ... }`); a history item that is refused fails the spec.
 */
export function given(kind: AnyKind, history: readonly Input[] = [], opts: { start?: number } = {}): Given {
  const host = new SimulatedHost(kind, opts.start);
  for (const item of history) {
    feed(host, item);
    if (host.refusal) throw new Error(`the history item ${item.type} was refused: ${host.refusal}`);
  }
  return new Given(host);
}
