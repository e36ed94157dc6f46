import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { flowHome } from '../infra/locations.js';
import { answersHealth } from './client.js';
import { findRunningFlow, logPath } from './running-flow.js';

/**
 * `f up -d`: runs the same `f up` in the background (its own session, output appended to
 * $FLOW_HOME/flow.log) and waits until its gateway answers: then prints the URL and exits 0.
 * If it ends first, or does not answer in time, the end of the log says why and the exit is 1.
 */
export async function detachUp(args: string[], timeoutMs = 60_000): Promise<void> {
  const home = flowHome();
  const already = findRunningFlow(home);
  if (already) throw new Error(`Flow is already running for this FLOW_HOME (pid ${already.pid}, ${already.url ?? 'no URL yet'}); f down stops it`);
  mkdirSync(home, { recursive: true });
  const log = logPath(home);
  const fd = openSync(log, 'a');
  writeSync(fd, `--- f up -d at ${new Date().toISOString()} ---\n`);
  const start = readFileSync(log).length;
  const child = spawn(process.execPath, [process.argv[1]!, 'up', ...args], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, FLOW_DETACHED: '1' },
  });
  closeSync(fd);
  let ended: string | null = null;
  child.once('exit', (code, signal) => (ended = signal ? `killed by ${signal}` : `exit code ${code}`));
  child.once('error', (err) => (ended = err.message));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const flow = findRunningFlow(home);
    if (flow && flow.pid === child.pid && flow.url && (await answersHealth(flow.url, 2000))) {
      child.unref();
      process.stdout.write(`Flow is up at ${flow.url} (detached, pid ${flow.pid}; log: ${log}; f down stops it)\n`);
      return;
    }
    if (ended !== null || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const why = ended ?? `no answer within ${Math.round(timeoutMs / 1000)} s`;
  if (ended === null) child.kill('SIGTERM');
  const tail = readFileSync(log).subarray(start).toString('utf8').trimEnd().split('\n').slice(-20);
  process.stderr.write(`f up -d: Flow did not start (${why}). The end of ${log}:\n${tail.map((l) => `  ${l}`).join('\n')}\n`);
  process.exitCode = 1;
}

