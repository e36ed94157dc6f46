import type { ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { OPENCODE_POLICY } from '../../actors/opencode-instance/index.js';
import { readLines } from '../host/line-splitter.js';
import type { Spawner, StartedRun } from '../host/supervised-spawn.js';

/**
 * Starting one `opencode serve`: its own process group, a random password, and its own data
 * directories so that no two instances share a database, a log or a snapshot store (opencode
 * shares all three per OS user otherwise, and its events and aborts are process-local: §0.4).
 */
export interface SpawnOptions {
  bin: string;
  cwd: string;
  port: number;
  /** Root of this instance's state: data/, state/, cache/ go below it (kept across restarts). */
  dataDir: string;
  env?: NodeJS.ProcessEnv;
  /** The host's supervised spawn (EffectContext.spawn). */
  spawn: Spawner;
}

export interface OpencodeProcess {
  child: ChildProcess;
  pid: number;
  /** What the start event records; null when no process was started (see `listening`). */
  started: StartedRun | null;
  password: string;
  /** The last lines of its stdout and stderr, colour codes removed. */
  tail(): string[];
  /** Resolves with the URL from the `listening on` line; rejects if it exits first. */
  listening: Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const LISTENING = /opencode server listening on (https?:\/\/\S+)/;
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

export function instanceDataDirs(dataDir: string) {
  return { data: join(dataDir, 'data'), state: join(dataDir, 'state'), cache: join(dataDir, 'cache') };
}

/**
 * Provider logins (`opencode auth login`) live in the data directory, which each instance has
 * its own of: the user's are copied in once, so an isolated instance can still reach its models.
 */
function seedAuth(dataHome: string, env: NodeJS.ProcessEnv): void {
  const userData = env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share');
  const from = join(userData, 'opencode', 'auth.json');
  const to = join(dataHome, 'opencode', 'auth.json');
  if (!existsSync(from) || existsSync(to)) return;
  mkdirSync(join(dataHome, 'opencode'), { recursive: true, mode: 0o700 });
  try {
    copyFileSync(from, to);
  } catch {
    /* best effort: without it the instance simply has no stored logins */
  }
}

export function spawnOpencode(opts: SpawnOptions): OpencodeProcess {
  const base = opts.env ?? process.env;
  const dirs = instanceDataDirs(opts.dataDir);
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true, mode: 0o700 });
  seedAuth(dirs.data, base);
  const password = randomBytes(24).toString('base64url');
  const env: NodeJS.ProcessEnv = {
    ...base,
    OPENCODE_SERVER_PASSWORD: password,
    XDG_DATA_HOME: dirs.data,
    XDG_STATE_HOME: dirs.state,
    XDG_CACHE_HOME: dirs.cache,
    NO_COLOR: '1',
  };
  // The Basic-auth user must be the default one, which Flow's client sends.
  delete env.OPENCODE_SERVER_USERNAME;
  const { child, started } = opts.spawn(opts.bin, ['serve', '--hostname', '127.0.0.1', '--port', String(opts.port)], {
    cwd: opts.cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const keep = (line: string) => {
    const clean = line.replace(ANSI, '').trimEnd();
    if (!clean) return;
    lines.push(clean);
    if (lines.length > OPENCODE_POLICY.tailLines) lines.shift();
  };
  let resolveUrl!: (url: string) => void;
  let rejectUrl!: (err: Error) => void;
  const listening = new Promise<string>((res, rej) => {
    resolveUrl = res;
    rejectUrl = rej;
  });
  listening.catch(() => {});
  // Both pipes are always drained (an unread pipe blocks the child), through the bounded splitter.
  const onLine = (line: string) => {
    keep(line);
    const m = LISTENING.exec(line);
    if (m) resolveUrl(m[1]!);
  };
  for (const stream of [child.stdout, child.stderr]) if (stream) readLines(stream, onLine);
  child.on('error', (err) => rejectUrl(err));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      rejectUrl(new Error(signal ? `opencode was killed by ${signal}` : `opencode exited with code ${String(code)}`));
      resolve({ code, signal });
    });
  });
  return { child, pid: started?.pid ?? 0, started, password, tail: () => [...lines], listening, exited };
}
