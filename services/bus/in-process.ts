import { subjectMatches, type LiveBus, type LiveHandler } from './types.js';

/** The embedded mode's live bus: synchronous fan-out inside one process. */
export class InProcessLiveBus implements LiveBus {
  private readonly subs = new Set<{ pattern: string; handler: LiveHandler }>();

  publish(subject: string, data: unknown): void {
    for (const s of this.subs) {
      if (!subjectMatches(s.pattern, subject)) continue;
      try {
        s.handler({ subject, data });
      } catch (err) {
        process.emitWarning(`live subscriber failed on ${subject}: ${String(err)}`);
      }
    }
  }

  subscribe(pattern: string, handler: LiveHandler): () => void {
    const entry = { pattern, handler };
    this.subs.add(entry);
    return () => this.subs.delete(entry);
  }

  async close(): Promise<void> {
    this.subs.clear();
  }
}
