import { summary } from '../command-summaries.js';
import type { Command } from 'commander';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { api, apiBase, authHeaders, tokenFile } from '../client.js';
import { flowPaths } from '../../infra/locations.js';
import { notRunningMessage } from '../not-running.js';

/**
 * `f auth set-password | remove-password | login | logout | status`. The password is read from
 * stdin when stdin is not a terminal (`echo "$PW" | f auth set-password`), else prompted for
 * without echo. It never appears in argv, where `ps` would show it.
 */

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // One trailing line break is the `echo`'s, not the password's.
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Reads a line from the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    let value = '';
    const done = (err: Error | null): void => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done(null);
        if (ch === '\u0003') return done(new Error('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

async function readPassword(opts: { confirm: boolean }): Promise<string> {
  if (!process.stdin.isTTY) return readStdin();
  const first = await promptHidden('password: ');
  if (opts.confirm && (await promptHidden('again: ')) !== first) throw new Error('the two passwords differ; nothing was changed');
  return first;
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: unknown }> {
  const base = apiBase();
  let res: Response;
  try {
    res = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  } catch {
    throw new Error(notRunningMessage(base));
  }
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as unknown) : undefined };
}

/** A Flow of this FLOW_HOME that serves a gateway: `f up` (host.lock) or `f gateway` (gateway.lock). */
interface RunningFlow {
  who: string;
  url: string;
}

async function runningGateways(home: string): Promise<RunningFlow[]> {
  const [{ readHolder }, { isAlive }] = await Promise.all([import('../../services/host/pid-lock.js'), import('../../services/host/proc.js')]);
  const found: RunningFlow[] = [];
  for (const file of ['host.lock', 'gateway.lock']) {
    const holder = readHolder(join(home, file));
    if (!holder || !isAlive(holder.pid, holder.startTicks)) continue;
    const url = typeof holder.url === 'string' ? holder.url : '';
    // `f host` (distributed) writes "host <id>": it serves no gateway, so no password of its own.
    if (file === 'host.lock' && url.startsWith('host ')) continue;
    found.push({ who: `pid ${holder.pid}${url ? ` at ${url}` : ''}`, url });
  }
  return found;
}

/** What a running gateway says exposes it (null: nothing), or why it could not be asked. */
async function askExposure(flow: RunningFlow): Promise<{ asked: true; exposure: string | null } | { asked: false; why: string }> {
  if (!URL.canParse(flow.url)) return { asked: false, why: 'its lock file names no URL yet' };
  const base = new URL(flow.url);
  if (base.port === '0') return { asked: false, why: 'it is still starting' };
  // A gateway bound to every interface answers on loopback.
  if (base.hostname === '0.0.0.0') base.hostname = '127.0.0.1';
  if (base.hostname === '[::]') base.hostname = '[::1]';
  try {
    const res = await fetch(new URL('/api/auth/status', base), { signal: AbortSignal.timeout(5000) });
    // zod is loaded here, not for every f command that merely registers this group.
    const { z } = await import('zod');
    const parsed = z.object({ exposure: z.string().nullable() }).safeParse(await res.json());
    if (!parsed.success) return { asked: false, why: `it answered without saying whether it is exposed (HTTP ${res.status})` };
    return { asked: true, exposure: parsed.data.exposure };
  } catch (err) {
    return { asked: false, why: `it did not answer (${(err as Error).message})` };
  }
}

function exposedAdvice(exposure: string): string {
  const tunnel = /tunnel "([^"]+)"/.exec(exposure);
  if (tunnel) return `stop the tunnel first ("f tunnel stop ${tunnel[1]}")`;
  return 'restart Flow bound to 127.0.0.1 first ("f up" without --host, or --host 127.0.0.1)';
}

/**
 * Removing the password of a gateway that the world can reach would hand it to anyone (the
 * gateway itself keeps the password while exposed, but says so only in its log): ask each
 * running gateway of this FLOW_HOME first, and refuse while one is exposed.
 */
async function checkNotExposed(home: string, force: boolean): Promise<void> {
  for (const flow of await runningGateways(home)) {
    const answer = await askExposure(flow);
    if (answer.asked && answer.exposure !== null) {
      throw new Error(
        `refusing to remove the password: the running Flow (${flow.who}) is exposed: ${answer.exposure}. ` +
          `Without a password anyone who can reach it could control Flow; ${exposedAdvice(answer.exposure)}, then run this again`,
      );
    }
    if (!answer.asked && !force) {
      throw new Error(
        `refusing to remove the password: could not ask the running Flow (${flow.who}) whether it is exposed: ${answer.why}. ` +
          'Try again once it answers, or stop it first; --force removes the password anyway, for when that process is not really a running Flow',
      );
    }
  }
}

const errorMessage = (json: unknown, status: number): string => (json as { error?: { message?: string } } | undefined)?.error?.message ?? `HTTP ${status}`;

export function register(program: Command): void {
  const auth = program.command('auth').description(summary('auth'));

  auth
    .command('set-password')
    .description('set (or change) the gateway password; ends every existing session')
    .action(async () => {
      const { setPassword } = await import('../../services/auth/password.js');
      const password = await readPassword({ confirm: true });
      const paths = flowPaths();
      await setPassword(paths.home, password);
      // Sessions made with the old password end; a running gateway may honour a cached
      // check for up to 60 s more.
      // Tokens live where the gateway keeps its data: flow.db (embedded), gateway.db (distributed).
      for (const file of [paths.db, paths.gatewayDb].filter((f) => existsSync(f))) {
        const { openDatabase } = await import('../../services/store/db.js');
        const { TokenStore } = await import('../../services/auth/tokens.js');
        const db = openDatabase(file);
        try {
          new TokenStore(db).revokeAll();
        } finally {
          db.close();
        }
      }
      process.stdout.write('password set; log in with "f auth login"\n');
    });

  auth
    .command('remove-password')
    .description('remove the password: the gateway is open to anything that can reach it (loopback only); refused while the running Flow is exposed')
    .option('--force', 'remove it even when the running Flow cannot be asked whether it is exposed')
    .action(async (opts: { force?: boolean }) => {
      const { removePassword } = await import('../../services/auth/password.js');
      const home = flowPaths().home;
      await checkNotExposed(home, opts.force === true);
      removePassword(home);
      process.stdout.write('password removed; "f up" will refuse a non-loopback --host\n');
    });

  auth
    .command('login')
    .description('log in to the running gateway and keep the token for the other f commands')
    .action(async () => {
      const password = await readPassword({ confirm: false });
      const { status, json } = await post('/api/auth/login', { password, label: `f cli (${process.env.USER ?? 'user'})` });
      if (status !== 200) throw new Error(`login failed: ${errorMessage(json, status)}`);
      const { token, expiresAt } = json as { token: string; expiresAt: string };
      const { writePrivateFile } = await import('../../services/auth/password.js');
      const file = tokenFile();
      writePrivateFile(file, `${token}\n`, dirname(file));
      process.stdout.write(`logged in to ${apiBase()} until ${expiresAt}\n`);
    });

  auth
    .command('logout')
    .description('end this machine\'s session and forget its token')
    .action(async () => {
      const headers = authHeaders();
      if (headers.authorization) {
        const { status, json } = await post('/api/auth/logout', {}, headers);
        // 401: the token had already expired or been revoked; forgetting it is still right.
        if (status !== 200 && status !== 401) throw new Error(`logout failed: ${errorMessage(json, status)}`);
      }
      rmSync(tokenFile(), { force: true });
      process.stdout.write('logged out\n');
    });

  auth
    .command('status')
    .description('whether a password is set and whether this machine is logged in')
    .action(async () => {
      const base = apiBase();
      // node:http through the client, not fetch: fetch's first use loads undici, which would double what this command costs.
      const s = await api<{ passwordSet: boolean; authenticated: boolean; exposure?: string | null; failClosed?: boolean }>('GET', '/api/auth/status');
      process.stdout.write(`${base}: ${s.passwordSet ? 'password set' : 'no password (open, loopback only)'}; ${s.authenticated ? 'logged in' : 'not logged in'}\n`);
      if (s.exposure) process.stdout.write(`exposed: ${s.exposure}\n`);
      if (s.failClosed) process.stdout.write('the password file is gone, but while the gateway is exposed it keeps requiring a login: log in with the last password, or set a new one with "f auth set-password"\n');
    });
}
