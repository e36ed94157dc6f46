import type { ChildProcess } from 'node:child_process';
import type { Statement } from 'better-sqlite3';
import type { EventStore } from '../store/event-store.js';
import type { OutputLine } from '../store/read-model.js';
import type { LiveBus } from '../bus/types.js';
import { readLines } from '../host/line-splitter.js';

/**
 * Output of supervised processes: every line goes live on the bus at once, and into a bounded
 * history table in batches (one transaction per flush), trimmed to the last N lines per backend.
 * A line is at most `maxLineBytes` long (the shared splitter cuts and marks longer ones), so the
 * history is bounded in bytes too, whatever a child prints.
 */
export class OutputRecorder {
  private buffer: { seq: number; streamId: string; at: string; fd: string; line: string; truncated: boolean }[] = [];
  private flushTimer: NodeJS.Timeout | null = null;
  private live: LiveBus | null = null;
  private seq: number;
  private readonly insert: Statement;
  private readonly trim: Statement;

  constructor(
    private readonly store: EventStore,
    private readonly keep: number,
    private readonly opts: { maxLineBytes?: number } = {},
  ) {
    this.insert = store.db.prepare(`INSERT INTO output_lines (seq, stream_id, at, fd, line, truncated) VALUES (?, ?, ?, ?, ?, ?)`);
    this.trim = store.db.prepare(
      `DELETE FROM output_lines WHERE stream_id = ? AND seq <= (SELECT seq FROM output_lines WHERE stream_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)`,
    );
    // Live consumers and the table see the same seq, so a follower can skip what it already has.
    const used = store.db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'output_lines'`).get() as { seq: number } | undefined;
    this.seq = used?.seq ?? 0;
  }

  useBus(live: LiveBus): void {
    this.live = live;
  }

  attach(streamId: string, name: string, child: ChildProcess): void {
    const subject = `flow.live.backend-child.${name}.output`;
    for (const fd of ['stdout', 'stderr'] as const) {
      const stream = child[fd];
      if (!stream) continue;
      readLines(
        stream,
        (line, truncated) => {
          const at = new Date().toISOString();
          this.seq += 1;
          const msg: OutputLine = truncated ? { seq: this.seq, at, fd, line, truncated } : { seq: this.seq, at, fd, line };
          this.live?.publish(subject, msg);
          this.buffer.push({ seq: this.seq, streamId, at, fd, line, truncated });
          this.scheduleFlush();
        },
        { maxLineBytes: this.opts.maxLineBytes },
      );
    }
  }

  lines(streamId: string, limit: number): OutputLine[] {
    this.flush();
    const rows = this.store.db
      .prepare(`SELECT seq, at, fd, line, truncated FROM output_lines WHERE stream_id = ? ORDER BY seq DESC LIMIT ?`)
      .all(streamId, limit) as (Omit<OutputLine, 'truncated'> & { truncated: number })[];
    return rows.reverse().map(({ truncated, ...l }) => (truncated ? { ...l, truncated: true } : l));
  }

  forget(streamId: string): void {
    this.flush();
    this.store.db.prepare(`DELETE FROM output_lines WHERE stream_id = ?`).run(streamId);
  }

  flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    const touched = new Set(batch.map((b) => b.streamId));
    try {
      this.store.db.transaction(() => {
        for (const b of batch) this.insert.run(b.seq, b.streamId, b.at, b.fd, b.line, b.truncated ? 1 : 0);
        for (const id of touched) this.trim.run(id, id, this.keep - 1);
      })();
    } catch (err) {
      process.emitWarning(`could not store output lines: ${String(err)}`);
    }
  }

  private scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => this.flush(), 50);
    this.flushTimer.unref();
  }
}
