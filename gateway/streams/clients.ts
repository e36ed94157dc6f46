/**
 * The streaming clients connected right now. Two jobs: health/metrics read the counts, and on
 * shutdown every stream is ended, because a hijacked SSE response would otherwise keep
 * `server.close()` waiting forever (the @fastify/websocket trap of issue #45, for SSE).
 */
export type ClientKind = 'sse' | 'ws';

export interface ClientStats {
  sse: number;
  ws: number;
  /** Clients cut off since start because they stopped reading (send buffer over the cap). */
  cutOffSlow: number;
}

export class ClientRegistry {
  private readonly open = new Map<object, { kind: ClientKind; end: () => void }>();
  private slow = 0;

  add(kind: ClientKind, end: () => void): () => void {
    const key = {};
    this.open.set(key, { kind, end });
    return () => {
      this.open.delete(key);
    };
  }

  countSlowCutOff(): void {
    this.slow += 1;
  }

  stats(): ClientStats {
    let sse = 0;
    let ws = 0;
    for (const c of this.open.values()) {
      if (c.kind === 'sse') sse++;
      else ws++;
    }
    return { sse, ws, cutOffSlow: this.slow };
  }

  /** Ends every client of `kind` (every client when no kind is given): the gateway is closing. */
  endAll(kind?: ClientKind): void {
    for (const [key, c] of [...this.open]) {
      if (kind !== undefined && c.kind !== kind) continue;
      this.open.delete(key);
      try {
        c.end();
      } catch {
        // Shutting down: a socket that fails to end is already gone.
      }
    }
  }
}
