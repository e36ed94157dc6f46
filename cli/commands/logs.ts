import { summary } from '../command-summaries.js';
import type { Command } from 'commander';
import { api, apiBase } from '../client.js';
import { parseLogLines } from '../options.js';
import { formatLogLine, mergeLogs, wantsColor, type LogFormat, type LogLine } from '../log-lines.js';
import type { BackendView } from '../../gateway/backend-view.js';

export function register(program: Command): void {
  program
    .command('logs [names...]')
    .description(summary('logs'))
    .option('-n, --lines <n>', 'lines of history per backend', parseLogLines, 15)
    .option('-f, --follow', 'keep printing new lines (Ctrl+C stops)')
    .option('-t, --time', 'start each line with the time it was printed')
    .action(async (names: string[], opts: { lines: number; follow?: boolean; time?: boolean }) => {
      const wanted = names.length > 0 ? [...new Set(names)] : (await api<{ backends: BackendView[] }>('GET', '/api/backends')).backends.map((b) => b.name);
      if (wanted.length === 0) {
        process.stderr.write('no backends yet (add one with "f backend add <name> -- <command>")\n');
        if (!opts.follow) return;
      }
      const fmt: LogFormat = { nameWidth: Math.max(0, ...wanted.map((n) => n.length)), time: Boolean(opts.time), color: wantsColor() };
      const index = new Map(wanted.map((n, i) => [n, i]));
      const print = (name: string, l: LogLine) => process.stdout.write(formatLogLine(name, l, fmt, index.get(name)));
      // Every name is checked before anything is printed: a typo says so instead of a partial merge.
      const history = new Map<string, LogLine[]>();
      for (const name of wanted) history.set(name, (await api<{ lines: LogLine[] }>('GET', `/api/backends/${encodeURIComponent(name)}/logs?limit=${opts.lines}`)).lines);
      for (const { name, line } of mergeLogs(history)) print(name, line);
      if (!opts.follow || wanted.length === 0) return;
      // Each stream resumes after the last line printed of its backend, so the seam has no repeat.
      const { followSse } = await import('../sse-client.js');
      await Promise.all(
        wanted.map((name) => {
          const last = history.get(name)!.at(-1)?.seq;
          const headers: Record<string, string> = last === undefined ? {} : { 'last-event-id': String(last) };
          return followSse(`/api/backends/${encodeURIComponent(name)}/logs?follow=1&limit=${opts.lines}`, (event, data) => {
            if (event === 'line') print(name, JSON.parse(data) as LogLine);
          }, headers).catch(() => undefined);
        }),
      );
      throw new Error(`the log stream ended: Flow at ${apiBase()} stopped (or the backends were removed)`);
    });
}

