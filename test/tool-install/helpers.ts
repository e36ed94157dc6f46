import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { createReadStream } from 'node:fs';

export const REPO = process.cwd();
/**
 * A private build of the tree (gitignored test-artifacts/): other people rebuild dist/ while
 * these tests run, and a half-rewritten dist/ file would fail a test for no reason of its own.
 */
export const BUILD = join(REPO, 'test-artifacts/tool-install-dist');
export const F_MAIN = join(BUILD, 'cli/main.js');
export const FIXTURES = join(REPO, 'test/fixtures/tools');

function newest(dir: string): number {
  let max = 0;
  const stack = [dir];
  while (stack.length > 0) {
    const d = stack.pop()!;
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      const st = statSync(p);
      if (st.isDirectory()) stack.push(p);
      else if (n.endsWith('.ts')) max = Math.max(max, st.mtimeMs);
    }
  }
  return max;
}

/**
 * Tests run the built `f`. Builds once (under a lock, so parallel test files share it) when
 * dist/ is older than the tool-install sources; a type error elsewhere in the tree does not stop
 * tsc from emitting, so only a missing output is fatal.
 */
export function ensureBuilt(): void {
  const out = join(BUILD, 'cli/commands/tools.js');
  const sources = Math.max(newest(join(REPO, 'services/tool-install')), newest(join(REPO, 'cli')), newest(join(REPO, 'actors')));
  if (existsSync(out) && statSync(out).mtimeMs >= sources) return;
  const lock = `${BUILD}.lock`;
  mkdirSync(BUILD, { recursive: true });
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      spawnSync('sleep', ['0.2']);
      if (existsSync(out) && statSync(out).mtimeMs >= sources && !existsSync(lock)) return;
    }
  }
  try {
    if (!(existsSync(out) && statSync(out).mtimeMs >= sources)) spawnSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', BUILD], { cwd: REPO, stdio: 'ignore' });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  if (!existsSync(out)) throw new Error(`the build did not produce ${out}`);
}

export interface Sandbox {
  home: string;
  dir: string;
  env: Record<string, string>;
  cleanup(): void;
}

/** A temporary FLOW_HOME (and scratch dir); dev roots off unless a test sets them. */
export function sandbox(): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), 'flow-tools-'));
  const home = join(dir, 'home');
  mkdirSync(home);
  return {
    home,
    dir,
    env: { FLOW_HOME: home, FLOW_CLI_DEV_ROOTS: '', FLOW_CATALOG_URL: '', FLOW_REGISTRY_URL: '', FLOW_HOST_ID: 'test' },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function copyFixture(name: string, to: string): string {
  const dest = join(to, name);
  cpSync(join(FIXTURES, name), dest, { recursive: true });
  return dest;
}

export interface FRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Spawns the built `f` (never blocking this process: the catalog server lives here). */
export function startF(args: readonly string[], env: Record<string, string>, opts: { cwd?: string; stdin?: 'pipe' | 'ignore' } = {}): { proc: ChildProcess; done: Promise<FRun> } {
  const proc = spawn(process.execPath, [F_MAIN, ...args], {
    cwd: opts.cwd ?? REPO,
    env: { ...process.env, ...env },
    stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<FRun>((res) => proc.on('close', (code, signal) => res({ code, signal, stdout, stderr })));
  return { proc, done };
}

export function f(args: readonly string[], env: Record<string, string>, opts: { cwd?: string; input?: string } = {}): Promise<FRun> {
  const { proc, done } = startF(args, env, { cwd: opts.cwd, stdin: opts.input === undefined ? 'ignore' : 'pipe' });
  if (opts.input !== undefined) proc.stdin!.end(opts.input);
  const timer = setTimeout(() => proc.kill('SIGKILL'), 25_000);
  return done.finally(() => clearTimeout(timer));
}

export function json<T = Record<string, unknown>>(s: string): T {
  return JSON.parse(s) as T;
}

export interface StaticServer {
  url: string;
  /** 'files' serves the directory; 'html' answers every request with a web page. */
  mode: 'files' | 'html';
  requests: string[];
  close(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1, port 0, serving a directory (a static catalog host). */
export async function serveDir(root: string): Promise<StaticServer> {
  const base = resolve(root);
  const state: StaticServer = { url: '', mode: 'files', requests: [], close: async () => {} };
  const server: Server = createServer((req, res) => {
    state.requests.push(req.url ?? '');
    if (state.mode === 'html') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><html><body>Welcome to nginx!</body></html>');
      return;
    }
    const file = resolve(base, '.' + decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    if (!file.startsWith(base + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': file.endsWith('.json') ? 'application/json' : 'application/octet-stream', 'content-length': statSync(file).size });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  state.url = `http://127.0.0.1:${port}/`;
  state.close = () => new Promise<void>((r) => server.close(() => r()));
  return state;
}

/** Everything under a directory, as sorted relative paths (to show nothing was half-written). */
export function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const stack = [''];
  while (stack.length > 0) {
    const rel = stack.pop()!;
    for (const n of readdirSync(join(dir, rel))) {
      const r = rel ? `${rel}/${n}` : n;
      out.push(r);
      if (statSync(join(dir, r)).isDirectory()) stack.push(r);
    }
  }
  return out.sort();
}

import Database from 'better-sqlite3';

/** The tool-install stream of `id` on a sandbox's host (FLOW_HOST_ID=test), as (type, data) pairs, read straight from the SQLite log. */
export function toolEvents(home: string, id: string): { type: string; data: Record<string, unknown> }[] {
  const file = join(home, 'flow.db');
  if (!existsSync(file)) return [];
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(`SELECT type, data FROM events WHERE stream_id = ? ORDER BY version`).all(`tool-install:${id}_test`) as { type: string; data: string }[]).map((r) => ({
      type: r.type,
      data: JSON.parse(r.data) as Record<string, unknown>,
    }));
  } finally {
    db.close();
  }
}

export function toolStatus(home: string, id: string): string | null {
  const file = join(home, 'flow.db');
  if (!existsSync(file)) return null;
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(`SELECT status FROM actor_state WHERE stream_id = ?`).get(`tool-install:${id}_test`) as { status: string } | undefined)?.status ?? null;
  } finally {
    db.close();
  }
}
