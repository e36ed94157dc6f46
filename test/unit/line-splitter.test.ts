import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { LineSplitter, readLines, type SplitLine } from '../../services/host/line-splitter.js';

/** Feeds the chunks through one splitter, ends the stream, and returns every line it gave. */
function split(chunks: (string | Buffer)[], maxLineBytes?: number): SplitLine[] {
  const out: SplitLine[] = [];
  const s = new LineSplitter({ maxLineBytes });
  const onLine = (line: string, truncated: boolean) => out.push({ line, truncated });
  for (const c of chunks) s.push(c, onLine);
  s.flush(onLine);
  return out;
}

const whole = (...lines: string[]) => lines.map((line) => ({ line, truncated: false }));
const bytes = (s: string) => Buffer.byteLength(s);

describe('the bounded line splitter', () => {
  it('given lines in one chunk, when split, then each is one line without its newline', () => {
    expect(split(['a\nbb\n\nccc\n'])).toEqual(whole('a', 'bb', '', 'ccc'));
  });

  it('given \\r\\n line ends, also split between the \\r and the \\n, then no \\r is left in a line', () => {
    expect(split(['one\r\ntwo\r', '\nthree\r\n'])).toEqual(whole('one', 'two', 'three'));
  });

  it('given a lone \\r inside a line (a progress bar), then it stays in the line', () => {
    expect(split(['10%\r20%\r30%\n'])).toEqual(whole('10%\r20%\r30%'));
  });

  it('given a line in pieces across chunks, then it comes out whole', () => {
    expect(split(['hel', 'lo wo', 'rld\nnext', '\n'])).toEqual(whole('hello world', 'next'));
  });

  it('given a multi-byte character split across chunks, then it is decoded whole', () => {
    const text = Buffer.from('é€😀\n');
    const chunks = [...text].map((b) => Buffer.from([b])); // one byte per chunk
    expect(split(chunks)).toEqual(whole('é€😀'));
  });

  it('given a final line with no newline when the stream ends, then it is given too', () => {
    expect(split(['first\nlast without newline'])).toEqual(whole('first', 'last without newline'));
    expect(split(['only\r'])).toEqual(whole('only'));
    expect(split([])).toEqual([]);
    expect(split(['ends\n'])).toEqual(whole('ends'));
  });

  it('given a line of exactly the limit (with or without \\r\\n), then it is not cut', () => {
    const max = 16;
    expect(split(['x'.repeat(max) + '\n'], max)).toEqual(whole('x'.repeat(max)));
    expect(split(['x'.repeat(max) + '\r', '\n'], max)).toEqual(whole('x'.repeat(max)));
  });

  it('given a line over the limit, then it is cut at the limit, marked cut, the rest dropped up to the next newline', () => {
    const max = 16;
    expect(split(['x'.repeat(max + 1) + '\nnext\n'], max)).toEqual([{ line: 'x'.repeat(max), truncated: true }, ...whole('next')]);
    // Arriving in pieces, far past the limit: one cut line, then the lines after it as usual.
    const pieces = Array.from({ length: 100 }, () => 'y'.repeat(10));
    expect(split([...pieces, 'tail\nafter\n'], max)).toEqual([{ line: 'y'.repeat(max), truncated: true }, ...whole('after')]);
  });

  it('given a runaway line, then the cut line is given when the limit is passed, not only at its newline', () => {
    const out: SplitLine[] = [];
    const s = new LineSplitter({ maxLineBytes: 8 });
    s.push('z'.repeat(20), (line, truncated) => out.push({ line, truncated }));
    expect(out).toEqual([{ line: 'z'.repeat(8), truncated: true }]);
  });

  it('given a multi-byte character straddling the cut, then the cut line ends before it (whole characters, at most the limit)', () => {
    const max = 10;
    const line = 'abcdefgh€€'; // € is 3 bytes: bytes 8-10 straddle the limit of 10
    const [first] = split([line + '\n'], max);
    expect(first).toEqual({ line: 'abcdefgh', truncated: true });
    const emoji = '😀'.repeat(10); // 4 bytes each
    const [cut] = split([emoji + '\n'], max);
    expect(cut!.line).toBe('😀😀');
    expect(bytes(cut!.line)).toBeLessThanOrEqual(max);
  });

  it('given invalid UTF-8 (binary output), then a line still holds at most the limit in bytes once decoded', () => {
    const max = 32;
    const binary = Buffer.alloc(max, 0xff); // each byte decodes to U+FFFD, 3 bytes in UTF-8
    const [l] = split([binary, '\n'], max);
    expect(bytes(l!.line)).toBeLessThanOrEqual(max);
    expect(l!.truncated).toBe(true);
  });

  it('given a stream, readLines gives its lines and its last unterminated line at the end', async () => {
    const stream = new PassThrough();
    const got: SplitLine[] = [];
    const done = new Promise<void>((resolve) => readLines(stream, (line, truncated) => got.push({ line, truncated }), { maxLineBytes: 4, onEnd: resolve }));
    stream.write('ab\r\ncdefgh');
    stream.write(Buffer.from([0xe2, 0x82]));
    stream.end(Buffer.from([0xac, 0x0a, 0x61]));
    await done;
    expect(got).toEqual([{ line: 'ab', truncated: false }, { line: 'cdef', truncated: true }, { line: 'a', truncated: false }]);
  });

  it('by default, the limit is 64 KiB', () => {
    const [l] = split(['q'.repeat(200 * 1024) + '\n']);
    expect(l).toEqual({ line: 'q'.repeat(64 * 1024), truncated: true });
  });
});
