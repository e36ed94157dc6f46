import type { ChildProcess } from 'node:child_process';
import type { EventStore, OutputLine, StoredOutputLine } from '../store/types.js';
import { liveSubjects } from '../bus/names.js';
import type { LiveBus } from '../bus/types.js';
import { readLines } from '../host/line-splitter.js';
import type { BackendLogFiles } from './log-file.js';

/**
 * Output of supervised processes: every line goes live on the bus at once, and into a bounded
 * history table in batches (one transaction per flush), trimmed to the last N lines per backend.
 * A line is at most `maxLineBytes` long (the shared splitter cuts and marks longer ones), so the
 * history is bounded in bytes too, whatever a child prints.
 */
export class OutputRecorder {
  private buffer: StoredOutputLine[] = [];
  private flushTimer: NodeJS.Timeout | null = null;
  private live: LiveBus | null = null;
  private seq: number;
  /** Lines the history table could not take since it last could (a full disk): said once, not per flush. */
  private dropped = 0;

  constructor(
    private readonly store: EventStore,
    private readonly keep: number,
    private readonly opts: { maxLineBytes?: number; files?: BackendLogFiles } = {},
  ) {
    // Live consumers and the table see the same seq, so a follower can skip what it already has.
    this.seq = store.output.lastSeq();
  }

  useBus(live: LiveBus): void {
    this.live = live;
  }

  attach(streamId: string, name: string, child: ChildProcess): void {
    for (const fd of ['stdout', 'stderr'] as const) {
      const stream = child[fd];
      if (!stream) continue;
      readLines(stream, (line, truncated) => this.record(streamId, name, fd, line, truncated), { maxLineBytes: this.opts.maxLineBytes });
    }
  }

  /** A line of Flow's own about a backend (started, reloading, cannot run ...), among its output. */
  note(streamId: string, name: string, text: string): void {
    this.record(streamId, name, 'flow', text, false);
  }

  private record(streamId: string, name: string, fd: OutputLine['fd'], line: string, truncated: boolean): void {
    const at = new Date().toISOString();
    this.seq += 1;
    const msg: OutputLine = truncated ? { seq: this.seq, at, fd, line, truncated } : { seq: this.seq, at, fd, line };
    this.live?.publish(liveSubjects.output('backend-child', name), msg);
    this.buffer.push({ seq: this.seq, streamId, at, fd, line, truncated });
    this.scheduleFlush();
  }

  lines(streamId: string, limit: number): OutputLine[] {
    this.flush();
    return this.store.output.read(streamId, limit);
  }

  forget(streamId: string): void {
    this.flush();
    this.store.output.forget(streamId);
  }

  flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    if (this.opts.files) this.writeFiles(batch);
    try {
      this.store.output.append(batch, this.keep);
    } catch (err) {
      if (this.dropped === 0) process.emitWarning(`could not keep backends' output lines in the history table (${String(err)}); they still go live, and are left out of the history until it can be written`);
      this.dropped += batch.length;
      return;
    }
    if (this.dropped > 0) process.emitWarning(`backends' output history can be written again; ${this.dropped} line(s) printed meanwhile are not in it`);
    this.dropped = 0;
  }

  /** One write per backend per flush; the file outlives the table's bounded history. */
  private writeFiles(batch: readonly StoredOutputLine[]): void {
    const byStream = new Map<string, StoredOutputLine[]>();
    for (const l of batch) {
      let list = byStream.get(l.streamId);
      if (!list) byStream.set(l.streamId, (list = []));
      list.push(l);
    }
    for (const [streamId, lines] of byStream) this.opts.files!.write(streamId.slice(streamId.indexOf(':') + 1), lines);
  }

  private scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => this.flush(), 50);
    this.flushTimer.unref();
  }
}
