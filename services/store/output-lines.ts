import type { Statement } from 'better-sqlite3';
import type { Db } from './db.js';
import type { OutputHistory, OutputLine, StoredOutputLine } from './types.js';

/** The output_lines table: the last lines of each supervised process, bounded per stream. */
export class OutputLineTable implements OutputHistory {
  private readonly stmt: {
    insert: Statement<[number, string, string, string, string, number]>;
    trim: Statement<[string, string, number]>;
    read: Statement<[string, number], Omit<OutputLine, 'truncated'> & { truncated: number }>;
    forget: Statement<[string]>;
    lastSeq: Statement<[], { seq: number }>;
  };

  constructor(private readonly db: Db) {
    this.stmt = {
      insert: db.prepare(`INSERT INTO output_lines (seq, stream_id, at, fd, line, truncated) VALUES (?, ?, ?, ?, ?, ?)`),
      trim: db.prepare(`DELETE FROM output_lines WHERE stream_id = ? AND seq <= (SELECT seq FROM output_lines WHERE stream_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)`),
      read: db.prepare(`SELECT seq, at, fd, line, truncated FROM output_lines WHERE stream_id = ? ORDER BY seq DESC LIMIT ?`),
      forget: db.prepare(`DELETE FROM output_lines WHERE stream_id = ?`),
      lastSeq: db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'output_lines'`),
    };
  }

  lastSeq(): number {
    return this.stmt.lastSeq.get()?.seq ?? 0;
  }

  append(lines: readonly StoredOutputLine[], keep: number): void {
    const touched = new Set(lines.map((l) => l.streamId));
    this.db.transaction(() => {
      for (const l of lines) this.stmt.insert.run(l.seq, l.streamId, l.at, l.fd, l.line, l.truncated ? 1 : 0);
      // The newest `keep` stay: what is at or below the (keep + 1)-th newest goes.
      for (const id of touched) this.stmt.trim.run(id, id, keep);
    })();
  }

  read(streamId: string, limit: number): OutputLine[] {
    const rows = this.stmt.read.all(streamId, limit);
    return rows.reverse().map(({ truncated, ...l }) => (truncated ? { ...l, truncated: true } : l));
  }

  forget(streamId: string): void {
    this.stmt.forget.run(streamId);
  }
}
