import type { EventMeta } from '../store/envelope.js';
import { isPassingWriteFailure, writeFailureRemedy } from '../store/errors.js';

/** Something the world did that an actor must hear of: a child's exit, a timer that fired. */
export interface Observation {
  streamId: string;
  type: string;
  data: Record<string, unknown>;
  meta: EventMeta;
  /** When it happened (ms since the epoch), which is its time in the log however late it is written. */
  at: number;
}

export interface HeldObservationsOptions {
  /** Appends one observation and applies it; throws what the store threw. */
  deliver(o: Observation): void;
  /** The host's clock: an observation's time is when it was first to be written. */
  now(): number;
  /** Runs `fn` in the host's queue, after what is queued. */
  schedule(fn: () => void): void;
  log(line: string): void;
  /** The log's file, for the messages. */
  where: string | null;
  firstRetryMs?: number;
  maxRetryMs?: number;
}

/**
 * What the world did while the log could not be written (a full disk, an I/O error): it already
 * happened, so it is not dropped. It is held, in the order it happened, and recorded in that order
 * once the log takes writes again, retried with a growing delay; nothing else is written before
 * it, so no command is judged on a state the world has left. Every method runs in the host's queue.
 */
export class HeldObservations {
  private readonly held: Observation[] = [];
  /** Why the log cannot be written, and what to do about it; null while it can be. */
  private failure: { why: string; remedy: string } | null = null;
  private recorded = 0;
  private retry: NodeJS.Timeout | null = null;
  private delayMs: number;

  constructor(private readonly opts: HeldObservationsOptions) {
    this.delayMs = opts.firstRetryMs ?? 200;
  }

  get count(): number {
    return this.held.length;
  }

  /** Records `o` now, or holds it behind what is already held (with the time it has now). */
  observe(o: Omit<Observation, 'at'>): void {
    this.held.push({ ...o, at: this.opts.now() });
    this.flush();
  }

  /** Records what is held, oldest first; true once nothing is held. */
  flush(): boolean {
    while (this.held.length > 0) {
      const o = this.held[0]!;
      try {
        this.opts.deliver(o);
        if (this.failure !== null) this.recorded++;
      } catch (err) {
        if (isPassingWriteFailure(err)) {
          this.failing(o, err);
          return false;
        }
        // Not the log's state but this observation's (an actor the log no longer has): it can never be written.
        this.opts.log(`${o.streamId}: could not record ${o.type}: ${err instanceof Error ? err.message : String(err)}`);
      }
      this.held.shift();
    }
    if (this.failure !== null) {
      this.opts.log(`the event log${this.at()} can be written again: recorded the ${this.recorded} observation(s) held meanwhile, in order`);
      this.failure = null;
      this.recorded = 0;
      this.delayMs = this.opts.firstRetryMs ?? 200;
    }
    return true;
  }

  /** Why a command cannot be written now, or null when the log takes writes. */
  refusal(err?: Error & { code: string }): string | null {
    const failure = err ? { why: err.message, remedy: writeFailureRemedy(err) } : this.failure;
    if (failure === null) return null;
    const waiting = this.held.length ? `; ${this.held.length} observation(s) of the world wait to be recorded first` : '';
    return `the event log${this.at()} cannot be written (${failure.why}): nothing was done; ${failure.remedy}, then try again${waiting}`;
  }

  /** The host stops: one last try, then say what could not be recorded. */
  stop(): void {
    const recorded = this.held.length === 0 || this.flush();
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    if (recorded) return;
    const lost = this.held.splice(0).map((o) => `${o.type} of ${o.streamId}`);
    this.opts.log(`stopping with the event log${this.at()} still unwritable (${this.failure?.why}): ${lost.length} observation(s) not recorded: ${lost.join(', ')}; the next start reconciles with what is still running`);
  }

  private failing(o: Observation, err: Error & { code: string }): void {
    if (this.failure === null) {
      this.opts.log(`the event log${this.at()} cannot be written (${err.message}): holding ${o.type} of ${o.streamId} and what follows it, retrying; commands are refused until it can be written (${writeFailureRemedy(err)})`);
    }
    this.failure = { why: err.message, remedy: writeFailureRemedy(err) };
    if (this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      this.opts.schedule(() => this.flush());
    }, this.delayMs);
    this.delayMs = Math.min(this.delayMs * 2, this.opts.maxRetryMs ?? 5000);
  }

  private at(): string {
    return this.opts.where ? ` ${this.opts.where}` : '';
  }
}
