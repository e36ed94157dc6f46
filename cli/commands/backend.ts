import { summary } from '../command-summaries.js';
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { api, apiBase, FlowApiError } from '../client.js';
import { parseRealPort, parseLogLines } from '../options.js';
import { printJson } from '../output.js';
import { formatBytes, formatPercent, formatUptime } from '../figures.js';
import { table, watchTable } from '../table.js';
import type { BackendView } from '../../gateway/backend-view.js';

interface LogLine {
  seq: number;
  at: string;
  fd: string;
  line: string;
  truncated?: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

/** A follow stream ended: say why, asking Flow once more (gone, or the backend removed). */
async function whyStreamEnded(name: string): Promise<string> {
  try {
    await api('GET', `/api/backends/${encodeURIComponent(name)}`);
    return `the log stream of ${name} ended (the connection to ${apiBase()} was cut)`;
  } catch (err) {
    if (err instanceof FlowApiError && err.status === 0) return `Flow at ${apiBase()} stopped: no more output of ${name} to follow`;
    return `stopped following ${name}: ${(err as Error).message}`;
  }
}

export function register(program: Command): void {
  const backend = program.command('backend').description(summary('backend'));

  backend
    .command('add <name> <command...>')
    .description('add a backend and start it: f backend add api --cwd ./api --port 4000 --watch src -- node server.js')
    .option('--cwd <dir>', 'working directory (default: here)')
    .option('--port <n>', 'port, passed to the process as PORT', parseRealPort)
    .option('--watch <path>', 'restart when a file under this path changes (repeatable)', collect, [] as string[])
    .option('--ext <ext>', 'file extensions that count as changes (repeatable; default .ts .js .json)', collect, [] as string[])
    .option('--env <KEY=VALUE>', 'environment variable (repeatable)', collect, [] as string[])
    .option('--no-start', 'add it stopped')
    .option('--on <host>', 'distributed mode: the host (f host --id) to run it on')
    .action(async (name: string, command: string[], opts: { cwd?: string; port?: number; watch: string[]; ext: string[]; env: string[]; start: boolean; on?: string }) => {
      const cwd = resolve(opts.cwd ?? '.');
      const env = Object.fromEntries(
        opts.env.map((kv) => {
          const i = kv.indexOf('=');
          if (i <= 0) throw new Error(`--env takes KEY=VALUE, not ${JSON.stringify(kv)}`);
          return [kv.slice(0, i), kv.slice(i + 1)];
        }),
      );
      const watch = opts.watch.map((w) => resolve(cwd, w));
      // Accepted (it may be created later), but a typo here would otherwise go unnoticed.
      watch.forEach((w, i) => existsSync(w) || process.stderr.write(`f: warning: --watch ${opts.watch[i]}: ${w} does not exist, so nothing there is watched yet\n`));
      const body: Record<string, unknown> = { name, command, cwd, env, watch, autostart: opts.start };
      if (opts.port !== undefined) body.port = opts.port;
      if (opts.on !== undefined) body.host = opts.on;
      if (opts.ext.length) body.watchExtensions = opts.ext.map((e) => (e.startsWith('.') ? e : `.${e}`));
      const b = await api<BackendView>('POST', '/api/backends', body);
      process.stdout.write(`added ${b.name} (${b.status})\n`);
    });

  backend
    .command('ls')
    .description('list backends with their status, CPU, memory, uptime, port and restarts (like pm2 ls)')
    .option('--json', 'print JSON')
    .option('-w, --watch', 'keep the table up to date (Ctrl+C stops)')
    .option('--interval <ms>', 'with --watch: between refreshes', (v) => wholeMs(v, '--interval'), 2000)
    .action(async (opts: { json?: boolean; watch?: boolean; interval: number }) => {
      const fetchList = async () => (await api<{ backends: BackendView[] }>('GET', '/api/backends')).backends;
      if (opts.json) return printJson(await fetchList());
      if (!opts.watch) {
        process.stdout.write(renderBackends(await fetchList()));
        return;
      }
      await watchTable(async () => renderBackends(await fetchList()), opts.interval);
    });

  for (const [verb, path, what] of [
    ['start', 'start', 'start a stopped, exited or failed backend'],
    ['stop', 'stop', 'stop a backend (SIGTERM to its process group, then SIGKILL)'],
    ['restart', 'restart', 'restart a backend, resetting its crash count'],
  ] as const) {
    backend
      .command(`${verb} <name>`)
      .description(what)
      .action(async (name: string) => {
        const b = await api<BackendView>('POST', `/api/backends/${encodeURIComponent(name)}/${path}`);
        process.stdout.write(`${b.name}: ${b.status}\n`);
      });
  }

  backend
    .command('rm <name>')
    .description('stop and remove a backend')
    .action(async (name: string) => {
      await api('DELETE', `/api/backends/${encodeURIComponent(name)}`);
      process.stdout.write(`removed ${name}\n`);
    });

  backend
    .command('logs <name>')
    .description('print the output kept for a backend; --follow streams new lines')
    .option('-n, --lines <n>', 'how many lines of history', parseLogLines, 100)
    .option('-f, --follow', 'keep printing new lines')
    .action(async (name: string, opts: { lines: number; follow?: boolean }) => {
      const id = encodeURIComponent(name);
      // A line cut at the limit ends with a marker, so it is never taken for the whole line.
      const print = (l: LogLine) => (l.fd === 'stderr' ? process.stderr : process.stdout).write(`${l.fd === 'flow' ? '[flow] ' : ''}${l.line}${l.truncated ? ' … [line cut]' : ''}\n`);
      if (opts.follow) {
        // The stream starts with the kept tail, then goes live; it ends only when Flow does.
        const { followSse } = await import('../sse-client.js');
        await followSse(`/api/backends/${id}/logs?follow=1&limit=${opts.lines}`, (event, data) => {
          if (event === 'line') print(JSON.parse(data) as LogLine);
        });
        throw new Error(await whyStreamEnded(name));
      }
      const res = await api<{ lines: LogLine[] }>('GET', `/api/backends/${id}/logs?limit=${opts.lines}`);
      res.lines.forEach(print);
    });
}

function wholeMs(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 100) throw new Error(`${flag} takes a whole number of milliseconds, at least 100, not ${JSON.stringify(v)}`);
  return n;
}

/** The `f backend ls` table, then a line for each backend whose state needs words (a spawn failure, a retirement). */
export function renderBackends(list: BackendView[]): string {
  // One host (embedded mode, or one f host): the column would say the same thing on every row.
  const hosts = new Set(list.map((b) => b.host));
  const multiHost = hosts.size > 1;
  let out = table(
    list.map((b) => ({
      name: b.name,
      ...(multiHost ? { host: b.host } : {}),
      status: b.status,
      pid: b.pid,
      cpu: formatPercent(b.cpuPercent),
      memory: formatBytes(b.memoryBytes),
      uptime: formatUptime(b.uptimeMs),
      port: b.port,
      restarts: b.restarts,
      'last exit': b.lastExit?.summary ?? null,
      command: b.config?.command.join(' ') ?? '',
    })),
    ['name', ...(multiHost ? ['host'] : []), 'status', 'pid', 'cpu', 'memory', 'uptime', 'port', 'restarts', 'last exit', 'command'],
  );
  for (const b of list) {
    // A spawn failure is said in full: "cannot run ...: no such program" is the fix's first clue.
    if (b.lastExit?.cause === 'spawn-failed' && b.lastError) out += `${b.name}: ${b.lastError}\n`;
    // Retired: its host log is gone; the row says so, and how to get the name back.
    if (b.retired) out += `${b.name}: retired, ${b.retired.message} ("f backend rm ${b.name}" removes it; "f backend add ${b.name} ..." replaces it)\n`;
  }
  return out;
}
