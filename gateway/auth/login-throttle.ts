/**
 * Login attempts, per client (issue 11, item 8). A client may get the password wrong a few
 * times; after that each further failure makes it wait twice as long before the next attempt
 * is even checked (429 with Retry-After). A client has one attempt in flight at a time, and
 * scrypt checks run a few at once from a short queue, so a flood from one client (or from
 * many) answers 429 at once instead of queueing ahead of the real user: with one attempt per
 * client in the queue, someone else's login waits for at most one check per active client.
 * Memory is bounded: the least recently seen clients are forgotten past a cap.
 */
export const LOGIN_FREE_FAILURES = 5;
export const LOGIN_BASE_DELAY_MS = 1000;
export const LOGIN_MAX_DELAY_MS = 15 * 60_000;

export interface LoginThrottleOptions {
  /** Milliseconds since the epoch; tests move it instead of sleeping. */
  now?: () => number;
  /** Failures a client may make before it must wait (default 5). */
  freeFailures?: number;
  /** The first wait, doubled at each further failure (default 1 s)... */
  baseDelayMs?: number;
  /** ...up to this (default 15 min). */
  maxDelayMs?: number;
  /** A client with no failure for this long starts afresh (default 1 h). */
  forgetAfterMs?: number;
  /** Clients remembered at most (default 10,000). */
  maxClients?: number;
  /** Password checks run at once (default 1: scrypt takes a core and 16 MiB each)... */
  concurrency?: number;
  /** ...and waiting for their turn (default 32; past that, 429 until the queue drains). */
  maxWaiting?: number;
}

export type LoginAttempt = { kind: 'checked'; valid: boolean } | { kind: 'limited'; retryAfterMs: number; message: string };

interface Client {
  failures: number;
  lastFailureAt: number;
  blockedUntil: number;
  inFlight: boolean;
}

function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

export class LoginThrottle {
  private readonly now: () => number;
  private readonly freeFailures: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly forgetAfterMs: number;
  private readonly maxClients: number;
  private readonly concurrency: number;
  private readonly maxWaiting: number;
  /** Insertion order is recency order: a client seen again moves to the end. */
  private readonly clients = new Map<string, Client>();
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(opts: LoginThrottleOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.freeFailures = opts.freeFailures ?? LOGIN_FREE_FAILURES;
    this.baseDelayMs = opts.baseDelayMs ?? LOGIN_BASE_DELAY_MS;
    this.maxDelayMs = opts.maxDelayMs ?? LOGIN_MAX_DELAY_MS;
    this.forgetAfterMs = opts.forgetAfterMs ?? 60 * 60_000;
    this.maxClients = opts.maxClients ?? 10_000;
    this.concurrency = opts.concurrency ?? 1;
    this.maxWaiting = opts.maxWaiting ?? 32;
  }

  get trackedClients(): number {
    return this.clients.size;
  }

  /** Checks a password for `client` with `verify`, unless the client must wait or the queue is full. */
  async attempt(client: string, verify: () => Promise<boolean>): Promise<LoginAttempt> {
    const now = this.now();
    const state = this.touch(client, now);
    if (state.blockedUntil > now) {
      const wait = state.blockedUntil - now;
      return { kind: 'limited', retryAfterMs: wait, message: `too many wrong passwords from this client; try again in ${seconds(wait)} s` };
    }
    if (state.inFlight) {
      return { kind: 'limited', retryAfterMs: 1000, message: 'a login from this client is already being checked; wait for its answer, then try again in 1 s' };
    }
    if (this.running >= this.concurrency && this.waiting.length >= this.maxWaiting) {
      return { kind: 'limited', retryAfterMs: 1000, message: 'too many logins are being checked at once; try again in 1 s' };
    }
    state.inFlight = true;
    let valid: boolean;
    try {
      valid = await this.limited(verify);
    } finally {
      state.inFlight = false;
    }
    if (valid) this.clients.delete(client);
    else this.fail(client, state);
    return { kind: 'checked', valid };
  }

  private touch(client: string, now: number): Client {
    let state = this.clients.get(client);
    if (state) {
      this.clients.delete(client);
      if (!state.inFlight && state.blockedUntil <= now && now - state.lastFailureAt >= this.forgetAfterMs) state = undefined;
    }
    state ??= { failures: 0, lastFailureAt: 0, blockedUntil: 0, inFlight: false };
    this.clients.set(client, state);
    this.evict();
    return state;
  }

  private fail(client: string, state: Client): void {
    const now = this.now();
    state.failures += 1;
    state.lastFailureAt = now;
    const over = state.failures - this.freeFailures;
    if (over >= 0) state.blockedUntil = now + Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(over, 30));
    // Evicted while its check ran: it is remembered again, as the most recent.
    this.clients.delete(client);
    this.clients.set(client, state);
    this.evict();
  }

  private evict(): void {
    while (this.clients.size > this.maxClients) this.clients.delete(this.clients.keys().next().value!);
  }

  private async limited<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running += 1;
    try {
      return await fn();
    } finally {
      // The slot passes straight to the next in line, so `running` never overshoots.
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}
