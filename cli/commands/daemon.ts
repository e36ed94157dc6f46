import { summary } from '../command-summaries.js';
import type { Command } from 'commander';
import { printJson } from '../output.js';
import { findRunningFlow, logPath, stillHolds } from '../running-flow.js';
import { notRunningMessage } from '../not-running.js';
import { answersHealth, apiBase } from '../client.js';

/** `f status` and `f down`: the running `f up` of this FLOW_HOME, found by its lock (pm2 status / pm2 kill). */

function uptime(startedAt: string | null): string | null {
  if (!startedAt) return null;
  let s = Math.max(0, Math.round((Date.now() - Date.parse(startedAt)) / 1000));
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  parts.push(`${s}s`);
  return parts.slice(0, 2).join(' ');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function register(program: Command): void {
  program
    .command('status')
    .description(summary('status'))
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const flow = findRunningFlow();
      if (!flow) {
        if (opts.json) printJson({ running: false });
        else process.stdout.write(`${notRunningMessage(apiBase())}\n`);
        process.exitCode = 3; // as `systemctl status` says "not running"
        return;
      }
      const healthy = flow.url ? await answersHealth(flow.url, 3000) : false;
      const info = { running: true, pid: flow.pid, url: flow.url, uptime: uptime(flow.startedAt), startedAt: flow.startedAt, mode: flow.mode, detached: flow.detached, answering: healthy, log: flow.detached ? logPath() : null };
      if (opts.json) return printJson(info);
      const how = `${flow.mode}${flow.detached ? `, detached (log: ${logPath()})` : ', in the foreground'}`;
      process.stdout.write(`Flow is running: pid ${flow.pid}, ${flow.url ?? 'no gateway in this process'}, up ${info.uptime ?? '?'}, ${how}\n`);
      if (flow.url && !healthy) {
        process.stdout.write(`but ${flow.url}/api/health does not answer (still starting, or stuck: see the log)\n`);
        process.exitCode = 1;
      }
    });

  program
    .command('down')
    .description(summary('down'))
    .option('--timeout <seconds>', 'how long to wait for an orderly stop', (v) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw new Error(`--timeout takes a number of seconds, not ${JSON.stringify(v)}`);
      return n;
    }, 30)
    .action(async (opts: { timeout: number }) => {
      const flow = findRunningFlow();
      if (!flow) {
        process.stdout.write('Flow is not running (nothing to stop)\n');
        return;
      }
      process.kill(flow.pid, 'SIGTERM');
      process.stdout.write(`stopping Flow (pid ${flow.pid})...\n`);
      const deadline = Date.now() + opts.timeout * 1000;
      while (stillHolds(flow) && Date.now() < deadline) await sleep(100);
      if (!stillHolds(flow)) {
        process.stdout.write('Flow stopped\n');
        return;
      }
      try {
        process.kill(flow.pid, 'SIGKILL');
      } catch {
        // gone at the last moment
      }
      process.stdout.write(`Flow did not stop within ${opts.timeout} s: killed it (SIGKILL). Children it had not stopped are stopped by the next f up.\n`);
      process.exitCode = 1;
    });
}
