import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const F_BIN = join(process.cwd(), 'dist/cli/main.js');

export function requireBuild(): void {
  if (!existsSync(F_BIN)) throw new Error('dist/cli/main.js is missing: run "npm run build" first (npm test does)');
}

export interface FlowProcess {
  proc: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

// Every `f` started here that still runs, those still starting included.
const started = new Set<ChildProcess>();

/**
 * Stops every `f` this test file started that still runs, including one still starting when a
 * test gave up on it (a test that timed out meanwhile never got its handle): SIGTERM, so each
 * stops its own children and records it, then SIGKILL after `graceMs`. For a test's cleanup.
 */
export async function stopStartedFlows(graceMs = 15_000): Promise<void> {
  await Promise.all(
    [...started].map(async (proc) => {
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const kill = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(kill);
    }),
  );
}

/** Runs `f up --port 0` as a real process with its own FLOW_HOME and waits for its URL. */
export function startFlow(home: string, extraEnv: Record<string, string> = {}, args: string[] = []): Promise<FlowProcess> {
  return startF(['up', '--port', '0', ...args], home, extraEnv, /Flow is up at (\S+)/);
}

/**
 * Runs any long-lived `f` command as a real process and waits until its output matches `ready`;
 * the first group of the match is returned as `url` (empty when the pattern has none).
 */
export async function startF(args: string[], home: string, extraEnv: Record<string, string>, ready: RegExp): Promise<FlowProcess> {
  requireBuild();
  const proc = spawn(process.execPath, [F_BIN, ...args], {
    env: { ...process.env, FLOW_HOME: home, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(proc);
  proc.once('exit', () => started.delete(proc));
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Not left running: SIGTERM lets it stop whatever it already started.
      proc.kill('SIGTERM');
      reject(new Error(`f ${args[0]} did not start:\n${out}`));
    }, 45_000);
    const check = () => {
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] ?? '');
      }
    };
    proc.stdout!.on('data', check);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`f ${args[0]} exited early:\n${out}`));
    });
  });
  return { proc, url, output: () => out, exited };
}

export async function json<T = unknown>(url: string, init?: { method?: string; body?: unknown }): Promise<{ status: number; body: T }> {
  const res = await fetch(url, {
    method: init?.method ?? 'GET',
    headers: init?.body === undefined ? {} : { 'content-type': 'application/json' },
    body: init?.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

export async function until<T>(fn: () => T | undefined | null | false | Promise<T | undefined | null | false>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
