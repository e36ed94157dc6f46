/**
 * Live-only traffic: output lines, token deltas. Not durable, not replayed; subjects follow
 * `flow.live.<streamType>.<name>.<what>`. Embedded: an in-process emitter. Distributed: core NATS.
 */
export interface LiveMessage {
  subject: string;
  data: unknown;
}

export type LiveHandler = (msg: LiveMessage) => void;

export interface LiveBus {
  publish(subject: string, data: unknown): void;
  /** `pattern` uses NATS wildcards: `*` one token, `>` the rest. */
  subscribe(pattern: string, handler: LiveHandler): () => void;
  close(): Promise<void>;
}

export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== '*' && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}
