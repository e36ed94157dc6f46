import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { json, requireBuild, startFlow, stopStartedFlows, until, type FlowProcess } from '../support/flow-process.js';
import { runF } from '../support/run-f.js';
import { tempDir } from '../support/tmp.js';

/**
 * A backend's output line is bounded whatever the backend prints: a line over the limit
 * (64 KiB) is cut there and marked, the rest of it dropped, so neither `f up`'s memory nor
 * flow.db grows with it.
 */

const LONG_LINE = join(process.cwd(), 'test/fixtures/long-line.mjs');
const MiB = 1024 * 1024;

interface Line {
  seq: number;
  fd: string;
  line: string;
  truncated?: boolean;
}

const running: FlowProcess[] = [];
const cleanups: (() => void)[] = [];

beforeAll(() => requireBuild());
afterEach(async () => {
  for (const f of running.splice(0)) {
    if (f.proc.exitCode === null && f.proc.signalCode === null) {
      f.proc.kill('SIGTERM');
      await f.exited;
    }
  }
  await stopStartedFlows();
  while (cleanups.length) cleanups.pop()!();
});

/** Resident memory of a process, in bytes, from /proc. */
function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** The `line` events of a followed log (SSE), as they arrive. */
async function follow(url: string, signal: AbortSignal): Promise<Line[]> {
  const res = await fetch(url, { signal });
  const lines: Line[] = [];
  let text = '';
  void (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        text += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = text.indexOf('\n\n')) !== -1) {
          const message = text.slice(0, end);
          text = text.slice(end + 2);
          const data = /^data: (.*)$/m.exec(message);
          if (/^event: line$/m.test(message) && data) lines.push(JSON.parse(data[1]!) as Line);
        }
      }
    } catch {
      // aborted at the end of the test
    }
  })();
  return lines;
}

describe('output lines are bounded', { timeout: 90_000 }, () => {
  it('a backend printing 100 MB with no newline: one line cut at 64 KiB, marked, stored and streamed; f up stays small, flow.db too', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const f = await startFlow(t.dir);
    running.push(f);
    const created = await json(`${f.url}/api/backends`, {
      method: 'POST',
      body: { name: 'runaway', command: [process.execPath, LONG_LINE, String(100 * MiB)], cwd: process.cwd(), autostart: false },
    });
    expect(created.status).toBe(201);
    const abort = new AbortController();
    cleanups.push(() => abort.abort());
    const streamed = await follow(`${f.url}/api/backends/runaway/logs?follow=1`, abort.signal);

    let peakRss = rssOf(f.proc.pid!);
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssOf(f.proc.pid!))), 20);
    cleanups.push(() => clearInterval(sampler));
    expect((await json(`${f.url}/api/backends/runaway/start`, { method: 'POST' })).status).toBe(200);

    const stored = await until(
      async () => {
        const r = await json<{ lines: Line[] }>(`${f.url}/api/backends/runaway/logs?limit=10`);
        return r.body.lines.some((l) => l.line === 'after') && r.body.lines.some((l) => l.line.startsWith('wrote')) && r.body.lines;
      },
      'the line after the runaway one',
      120_000,
    );
    clearInterval(sampler);

    const out = stored.filter((l) => l.fd === 'stdout');
    expect(out.map((l) => ({ length: Buffer.byteLength(l.line), truncated: l.truncated ?? false }))).toEqual([
      { length: 64 * 1024, truncated: true },
      { length: 'after'.length, truncated: false },
    ]);
    expect(out[0]!.line).toBe('x'.repeat(64 * 1024));
    await until(() => streamed.some((l) => l.line === 'after'), 'the streamed lines');
    const live = streamed.filter((l) => l.fd === 'stdout');
    expect(live.map((l) => ({ length: l.line.length, truncated: l.truncated ?? false }))).toEqual([
      { length: 64 * 1024, truncated: true },
      { length: 'after'.length, truncated: false },
    ]);
    // A memory bound, not a time: with a whole line held, f up was past 500 MB.
    expect(peakRss, `f up peaked at ${Math.round(peakRss / MiB)} MiB`).toBeLessThan(200 * MiB);
    const dbBytes = ['flow.db', 'flow.db-wal'].map((n) => join(t.dir, n)).filter(existsSync).reduce((sum, p) => sum + statSync(p).size, 0);
    expect(dbBytes, `flow.db and its WAL hold ${Math.round(dbBytes / MiB)} MiB`).toBeLessThan(16 * MiB);
  }, 180_000);

  it('FLOW_MAX_LINE_BYTES sets the limit; a value out of range is refused at start with what is allowed', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const refused = await runF(['up', '--port', '0'], { FLOW_HOME: t.dir, FLOW_MAX_LINE_BYTES: '10' });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('FLOW_MAX_LINE_BYTES must be at least 256');

    const f = await startFlow(t.dir, { FLOW_MAX_LINE_BYTES: '1024' });
    running.push(f);
    const created = await json(`${f.url}/api/backends`, { method: 'POST', body: { name: 'wide', command: [process.execPath, LONG_LINE, '5000'], cwd: process.cwd() } });
    expect(created.status).toBe(201);
    const lines = await until(async () => {
      const r = await json<{ lines: Line[] }>(`${f.url}/api/backends/wide/logs`);
      return r.body.lines.some((l) => l.line === 'after') && r.body.lines.filter((l) => l.fd === 'stdout');
    }, 'the lines of the wide backend');
    expect(lines.map((l) => ({ line: l.line, truncated: l.truncated ?? false }))).toEqual([
      { line: 'x'.repeat(1024), truncated: true },
      { line: 'after', truncated: false },
    ]);
  });
});
