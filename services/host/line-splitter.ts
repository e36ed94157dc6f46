import type { Readable } from 'node:stream';

/** The longest line kept from a child's output, in UTF-8 bytes; longer ones are cut here. */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;

export interface SplitLine {
  line: string;
  /** The line was longer than the limit: this is its start, the rest was dropped. */
  truncated: boolean;
}

export type OnLine = (line: string, truncated: boolean) => void;

const NL = 0x0a;
const CR = 0x0d;

/** The longest prefix of `buf` of at most `max` bytes that ends on a whole UTF-8 character. */
function cutAt(buf: Buffer, max: number): Buffer {
  if (buf.length <= max) return buf;
  let end = max;
  // A continuation byte (10xxxxxx) at the cut belongs to a character that straddles it.
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return buf.subarray(0, end);
}

/**
 * Splits a child's output into lines, holding at most one line's limit whatever the child
 * prints: a line longer than `maxLineBytes` is given at once, cut at the limit (on a character
 * boundary) and marked truncated, and the rest of it is dropped up to its newline. Lines end at
 * `\n`; a `\r` before it is dropped, a lone `\r` (a progress bar) stays in the line. Bytes are
 * decoded only once a line is complete, so a character split across chunks arrives whole.
 */
export class LineSplitter {
  private readonly max: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The current line was already given, cut; the rest of it is being skipped. */
  private dropping = false;

  constructor(opts: { maxLineBytes?: number } = {}) {
    this.max = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    if (!Number.isInteger(this.max) || this.max < 1) throw new Error(`maxLineBytes must be a whole number of at least 1, not ${String(opts.maxLineBytes)}`);
  }

  push(chunk: Buffer | string, onLine: OnLine): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(NL, start);
      if (nl === -1) {
        this.take(buf.subarray(start), onLine, true);
        return;
      }
      this.take(buf.subarray(start, nl), onLine, false);
      this.endLine(onLine);
      start = nl + 1;
    }
  }

  /** The stream ended: a last line without a newline is given too. */
  flush(onLine: OnLine): void {
    if (this.pendingBytes > 0) this.endLine(onLine);
    this.pending = [];
    this.pendingBytes = 0;
    this.dropping = false;
  }

  private take(piece: Buffer, onLine: OnLine, keepsChunk: boolean): void {
    if (this.dropping || piece.length === 0) return;
    // Room for one byte past the limit: a `\r` before the newline, or the proof of a long line.
    const room = this.max + 1 - this.pendingBytes;
    if (piece.length <= room) {
      // A piece that waits for a later chunk is copied, so it does not pin the whole chunk.
      this.pending.push(keepsChunk ? Buffer.from(piece) : piece);
      this.pendingBytes += piece.length;
      return;
    }
    this.pending.push(piece.subarray(0, room));
    const line = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    this.dropping = true;
    this.give(line, onLine);
  }

  private endLine(onLine: OnLine): void {
    if (this.dropping) {
      this.dropping = false;
      return;
    }
    let line = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    this.give(line, onLine);
  }

  private give(line: Buffer, onLine: OnLine): void {
    let truncated = line.length > this.max;
    let text = cutAt(line, this.max).toString('utf8');
    // Invalid bytes decode to U+FFFD (3 bytes each): the limit holds for what is stored, too.
    if (Buffer.byteLength(text) > this.max) {
      text = cutAt(Buffer.from(text, 'utf8'), this.max).toString('utf8');
      truncated = true;
    }
    onLine(text, truncated);
  }
}

/** Reads `stream` line by line through a bounded splitter; its last line is given when it ends. */
export function readLines(stream: Readable, onLine: OnLine, opts: { maxLineBytes?: number; onEnd?: () => void } = {}): void {
  const splitter = new LineSplitter(opts);
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    splitter.flush(onLine);
    opts.onEnd?.();
  };
  stream.on('data', (chunk: Buffer | string) => splitter.push(chunk, onLine));
  stream.on('end', end);
  stream.on('close', end);
  stream.on('error', () => {
    // A pipe of a dead child: what arrived has been given; 'close' follows.
  });
}
