/**
 * How often one client may call /api/register: a token bucket per client address. A client
 * starts with `burst` registrations and earns one back every `refillMs`; past that it gets 429
 * with the time until its next one. Every attempt costs a token (taken, invalid or reserved
 * names too), so the limit also bounds probing. Memory is bounded: past `maxClients` the least
 * recently seen client is forgotten (which can only give that client its burst back).
 */
export interface RegisterLimitOptions {
  /** Registrations a client may make at once (default 5). */
  burst?: number;
  /** One more registration per this many ms (default 1 min). */
  refillMs?: number;
  /** Clients remembered at most (default 10,000). */
  maxClients?: number;
}

export const REGISTER_BURST = 5;
export const REGISTER_REFILL_MS = 60_000;

export type RegisterTake = { ok: true } | { ok: false; retryAfterMs: number };

interface Bucket {
  tokens: number;
  at: number;
}

export class RegisterLimit {
  private readonly burst: number;
  private readonly refillMs: number;
  private readonly maxClients: number;
  /** Insertion order is recency order. */
  private readonly buckets = new Map<string, Bucket>();

  constructor(opts: RegisterLimitOptions = {}) {
    this.burst = opts.burst ?? REGISTER_BURST;
    this.refillMs = opts.refillMs ?? REGISTER_REFILL_MS;
    this.maxClients = opts.maxClients ?? 10_000;
    if (!(this.burst >= 1 && this.refillMs > 0)) throw new Error('a registration limit needs a burst of at least 1 and a positive refill interval');
  }

  get trackedClients(): number {
    return this.buckets.size;
  }

  take(client: string, now: number): RegisterTake {
    const prev = this.buckets.get(client);
    this.buckets.delete(client);
    // A clock that went back refills nothing (and takes nothing away).
    const elapsed = prev ? Math.max(0, now - prev.at) : 0;
    const tokens = prev ? Math.min(this.burst, prev.tokens + elapsed / this.refillMs) : this.burst;
    const bucket: Bucket = { tokens, at: prev ? Math.max(prev.at, now) : now };
    this.buckets.set(client, bucket);
    while (this.buckets.size > this.maxClients) this.buckets.delete(this.buckets.keys().next().value!);
    if (bucket.tokens < 1) return { ok: false, retryAfterMs: Math.ceil((1 - bucket.tokens) * this.refillMs) };
    bucket.tokens -= 1;
    return { ok: true };
  }
}
