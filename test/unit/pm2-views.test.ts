import { describe, expect, it } from 'vitest';
import type { BackendContext } from '../../actors/backend-child.js';
import { exitSummary } from '../../gateway/backend-view.js';
import { describeRecovery, upBanner } from '../../infra/banner.js';
import { formatLogLine, mergeLogs, type LogLine } from '../../cli/log-lines.js';
import { watchTable } from '../../cli/table.js';
import { formatBytes, formatPercent, formatUptime } from '../../cli/figures.js';

const ctx = (extra: Partial<BackendContext> = {}): BackendContext => ({ name: 'api', config: null, restarts: 0, run: null, lastExit: null, exits: 1, lastError: null, lastChange: null, ...extra });
const exit = (extra: Partial<NonNullable<BackendContext['lastExit']>> = {}) => ({ pid: 10, code: null, signal: 'SIGTERM', cause: 'exit' as const, at: 10_000, ranMs: 5_000, ...extra });

describe('the last exit in user words', () => {
  it('a signal exit of a run during which a file changed is a reload', () => {
    expect(exitSummary(ctx({ lastChange: { paths: ['/a.ts'], at: 9_000 } }), 'running', exit())).toBe('reload (files changed)');
  });
  it('a change before the run started does not make its end a reload', () => {
    expect(exitSummary(ctx({ lastChange: { paths: ['/a.ts'], at: 4_000 } }), 'running', exit())).toBe('restarted (SIGTERM)');
  });
  it('a foreign signal counts a crash restart, so it reads as a kill', () => {
    expect(exitSummary(ctx({ restarts: 1 }), 'backoff', exit({ signal: 'SIGKILL' }))).toBe('killed by SIGKILL');
  });
  it('stops, codes, spawn failures and Flow going away', () => {
    expect(exitSummary(ctx({ restarts: 2 }), 'stopped', exit())).toBe('stopped (SIGTERM)');
    expect(exitSummary(ctx(), 'exited', exit({ signal: null, code: 0 }))).toBe('code 0');
    expect(exitSummary(ctx(), 'failed', exit({ signal: null, cause: 'spawn-failed', ranMs: null }))).toBe('spawn failed');
    expect(exitSummary(ctx(), 'starting', exit({ cause: 'host-shutdown' }))).toBe('stopped with Flow');
    expect(exitSummary(ctx(), 'starting', exit({ cause: 'host-lost' }))).toBe('lost when Flow stopped');
  });
});

describe('the banner of f up', () => {
  it('counts what recovery changed, per kind, in user words', () => {
    expect(
      describeRecovery([
        { streamType: 'backend-child', streamId: 'backend-child:a', before: 'interrupted', after: 'starting' },
        { streamType: 'backend-child', streamId: 'backend-child:b', before: 'running', after: 'running' },
        { streamType: 'opencode-instance', streamId: 'opencode-instance:x', before: 'stopped with Flow', after: 'stopped' },
        { streamType: 'tunnel', streamId: 'tunnel:t', before: 'running', after: 'failed' },
      ]),
    ).toBe('2 backends restarted, 1 instance stopped, 1 tunnel failed');
    expect(describeRecovery([])).toMatch(/^nothing/);
  });
  it('starts with the URL line, then FLOW_HOME, the mode and what was resumed', () => {
    const text = upBanner({ title: 'Flow is up at http://127.0.0.1:1', home: '/h', mode: 'embedded', recovered: [] });
    expect(text.split('\n')).toEqual(['Flow is up at http://127.0.0.1:1', '  FLOW_HOME  /h', '  mode       embedded', expect.stringMatching(/^ {2}resumed {4}nothing/)]);
  });
});

describe('f logs lines and f backend ls figures', () => {
  const l = (fd: LogLine['fd'], line: string, at = '2026-01-01T00:00:00.000Z', seq = 1): LogLine => ({ seq, at, fd, line });
  it('marks stdout, stderr and Flow notes; colour only when asked', () => {
    const f = { nameWidth: 5, time: false, color: false };
    expect(formatLogLine('api', l('stdout', 'hi'), f)).toBe('api   | hi\n');
    expect(formatLogLine('api', l('stderr', 'oops'), f)).toBe('api   ! oops\n');
    expect(formatLogLine('api', l('flow', 'started'), { ...f, time: true })).toBe('2026-01-01T00:00:00.000Z api   ~ started\n');
    expect(formatLogLine('api', l('stderr', 'oops'), { ...f, color: true })).toContain('\x1b[31m! oops\x1b[0m');
  });
  it('merges by time, then by seq', () => {
    const merged = mergeLogs(new Map([['a', [l('stdout', 'a1', '2026-01-01T00:00:01.000Z', 5)]], ['b', [l('stdout', 'b1', '2026-01-01T00:00:00.500Z', 7), l('stdout', 'b2', '2026-01-01T00:00:01.000Z', 6)]]]));
    // a1 and b2 share a time: a1 has the lower seq (one host's print order).
    expect(merged.map((m) => m.line.line)).toEqual(['b1', 'a1', 'b2']);
  });
  it('figures have units', () => {
    expect([formatBytes(512), formatBytes(5 * 1024 * 1024), formatBytes(300 * 1024 * 1024), formatBytes(null)]).toEqual(['512 B', '5.0 MiB', '300 MiB', '-']);
    expect([formatPercent(12.345), formatPercent(null)]).toEqual(['12.3%', '-']);
    expect([formatUptime(42_000), formatUptime(5 * 60_000), formatUptime(3 * 3_600_000), formatUptime(2 * 86_400_000)]).toEqual(['42s', '5m', '3h', '2D']);
  });
  it('--watch on a terminal draws the new table over the old one', async () => {
    let written = '';
    const abort = new AbortController();
    let renders = 0;
    const out = { isTTY: true, columns: 80, write: (s: string) => ((written += s), true) };
    await watchTable(
      async () => {
        if (++renders === 3) abort.abort();
        return `NAME\nrow ${renders}\n`;
      },
      1,
      out as never,
      abort.signal,
    );
    // Two lines of table and a footer: each redraw moves up three lines and clears from there.
    expect(written.split('\x1b[3F').length - 1).toBe(2);
    expect(written).toContain('\x1b[J');
    expect(written).toMatch(/row 3\n/);
  });
});
