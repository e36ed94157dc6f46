import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { LineSplitter, parseTunnelLine } from '../../services/tunnel/output.js';
import { resolverFromDir } from '../../services/tunnel/resolve.js';
import { headCheck } from '../../services/tunnel/health.js';
import { tempDir } from '../support/tmp.js';
import { FAKE_CLOUDFLARED, json, request, startOrigin, until, wsEcho } from './helpers.js';


const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** The real output of `cloudflared tunnel --url http://localhost:3000 --no-autoupdate` (supervisors.md §4.1). */
const REAL = `2026-08-05T16:03:00Z INF Thank you for trying Cloudflare Tunnel. Doing so, without a Cloudflare account, is a quick way to experiment and try it out. However, be aware that these account-less Tunnels have no uptime guarantee, are subject to the Cloudflare Online Services Terms of Use (https://www.cloudflare.com/website-terms/), and Cloudflare reserves the right to investigate your use of Tunnels for violations of such terms. If you intend to use Tunnels in production you should use a pre-created named tunnel by following: https://developers.cloudflare.com/cloudflare-one/connections/connect-apps
2026-08-05T16:03:00Z INF Requesting new quick Tunnel on trycloudflare.com...
2026-08-05T16:03:03Z INF +--------------------------------------------------------------------------------------------+
2026-08-05T16:03:03Z INF |  Your quick Tunnel has been created! Visit it at (it may take some time to be reachable):  |
2026-08-05T16:03:03Z INF |  https://buffalo-marco-cardiff-motel.trycloudflare.com                                     |
2026-08-05T16:03:03Z INF +--------------------------------------------------------------------------------------------+
2026-08-05T16:03:03Z INF Cannot determine default configuration path. No file [config.yml config.yaml] in [~/.cloudflared ~/.cloudflare-warp ~/cloudflare-warp /etc/cloudflared /usr/local/etc/cloudflared]
2026-08-05T16:03:04Z INF Registered tunnel connection connIndex=0 connection=14d73749-5329-44f2-94ad-f47cfb3c13bd event=0 ip=198.41.200.113 location=sjc07 protocol=quic`;

describe('reading cloudflared output', () => {
  it('takes the URL from the box row only, never the disclaimer links', () => {
    const parsed = REAL.split('\n').map(parseTunnelLine);
    expect(parsed.filter((p) => p.kind === 'url')).toEqual([{ kind: 'url', url: 'https://buffalo-marco-cardiff-motel.trycloudflare.com' }]);
    expect(parsed[0]).toEqual({ kind: 'other' });
    expect(parsed.at(-1)).toEqual({ kind: 'connected', location: 'sjc07', protocol: 'quic', connIndex: 0 });
  });

  it('understands JSON output, ANSI colours, the pre-2023 registration line and the 429', () => {
    expect(parseTunnelLine('{"level":"info","time":"x","message":"|  https://a-b.trycloudflare.com  |"}')).toEqual({ kind: 'url', url: 'https://a-b.trycloudflare.com' });
    expect(parseTunnelLine('\x1b[90m2026-08-05T16:03:03Z\x1b[0m \x1b[32mINF\x1b[0m |  https://c-d.trycloudflare.com   |')).toEqual({ kind: 'url', url: 'https://c-d.trycloudflare.com' });
    expect(parseTunnelLine('2023-01-01T00:00:00Z INF Connection 0a1b-2c registered connIndex=0 ip=1.2.3.4 location=ORD')).toMatchObject({ kind: 'connected', location: 'ORD', connIndex: 0 });
    expect(parseTunnelLine('2026-01-01T00:00:00Z ERR Error unmarshaling QuickTunnel response: error code: 1015 status_code="429 Too Many Requests"')).toEqual({ kind: 'rate-limited' });
    // A URL outside a box row, or on another domain, is not the tunnel.
    expect(parseTunnelLine('INF see https://x.trycloudflare.com for details').kind).toBe('other');
    expect(parseTunnelLine('INF |  https://www.cloudflare.com/website-terms/  |').kind).toBe('other');
  });

  it('splits lines that arrive in pieces', () => {
    const s = new LineSplitter();
    const out: string[] = [];
    s.push('ab', (l) => out.push(l));
    s.push('c\nde\r\nf', (l) => out.push(l));
    s.flush((l) => out.push(l));
    expect(out).toEqual(['abc', 'de', 'f']);
  });
});

function startFake(targetPort: number, resolveDir: string, env: Record<string, string> = {}) {
  const child: ChildProcess = spawn(process.execPath, [FAKE_CLOUDFLARED, 'tunnel', '--url', `http://localhost:${targetPort}`, '--no-autoupdate'], {
    env: { ...process.env, FLOW_TUNNEL_RESOLVE_DIR: resolveDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '', exit: null as null | { code: number | null; signal: string | null } };
  child.stdout!.on('data', (c: Buffer) => (out.stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out.stderr += c.toString()));
  child.on('exit', (code, signal) => (out.exit = { code, signal }));
  cleanups.push(() => {
    if (!out.exit) child.kill('SIGKILL');
  });
  return { child, out };
}

describe('fake cloudflared', () => {
  it('prints what cloudflared prints, on stderr, in the same order', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const { out } = startFake(9, t.dir);
    await until(() => out.stderr.includes('Registered tunnel connection'), 'registration');
    expect(out.stdout).toBe('');
    const lines = out.stderr.trim().split('\n');
    for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (INF|ERR) /);
    const msgs = lines.map((l) => l.replace(/^\S+ \S+ /, ''));
    expect(msgs[0]).toMatch(/^Thank you for trying Cloudflare Tunnel\..*https:\/\/www\.cloudflare\.com\/website-terms\/.*https:\/\/developers\.cloudflare\.com/);
    expect(msgs[1]).toBe('Requesting new quick Tunnel on trycloudflare.com...');
    expect(msgs[2]).toBe(`+${'-'.repeat(92)}+`);
    expect(msgs[3]).toBe('|  Your quick Tunnel has been created! Visit it at (it may take some time to be reachable):  |');
    expect(msgs[4]).toMatch(/^\| {2}https:\/\/[a-z0-9-]+\.trycloudflare\.com +\|$/);
    expect(msgs[4]!.length).toBe(msgs[3]!.length);
    expect(msgs[5]).toBe(msgs[2]);
    expect(msgs[6]).toMatch(/^Cannot determine default configuration path/);
    expect(msgs.at(-1)).toMatch(/^Registered tunnel connection connIndex=0 connection=\S+ event=0 ip=\S+ location=\S+ protocol=quic$/);
    expect(lines.map(parseTunnelLine).filter((p) => p.kind === 'url')).toHaveLength(1);
  });

  it('really forwards HTTP (1 MiB POST intact) and WebSocket to the --url target; SIGTERM shuts down like cloudflared', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const origin = await startOrigin();
    cleanups.push(() => origin.close());
    const { child, out } = startFake(origin.port, t.dir);
    const url = await until(() => out.stderr.split('\n').map(parseTunnelLine).find((p) => p.kind === 'url'), 'the URL');
    const pub = new URL((url as { url: string }).url);
    const dial = resolverFromDir(t.dir)(pub);
    expect(dial.hostname).toBe('127.0.0.1');

    expect(await headCheck(pub.href, { resolve: resolverFromDir(t.dir) })).toEqual({ ok: true, status: 200 });
    const body = randomBytes(1024 * 1024);
    const r = await request(Number(dial.port), { host: pub.host, method: 'POST', path: '/p?q=1', body });
    expect(json(r)).toMatchObject({ url: '/p?q=1', bytes: body.length, sha256: createHash('sha256').update(body).digest('hex'), host: pub.host });
    const ws = await wsEcho(Number(dial.port), pub.host, '/ws', ['hi']);
    expect(ws).toEqual({ first: 'hello /ws', echoes: ['hi'] });

    // SIGUSR2: the edge connection drops, the process lives on (a dead tunnel).
    child.kill('SIGUSR2');
    await until(() => out.stderr.includes('Retrying connection'), 'the retry line');
    expect(await headCheck(pub.href, { resolve: resolverFromDir(t.dir) })).toMatchObject({ ok: false, error: 'ECONNREFUSED' });

    child.kill('SIGTERM');
    await until(() => out.exit, 'exit');
    expect(out.exit).toEqual({ code: 0, signal: null });
    expect(out.stderr).toContain('Initiating graceful shutdown due to signal terminated');
    expect(out.stderr).toContain('Tunnel server stopped');
    expect(existsSync(join(t.dir, pub.hostname))).toBe(false);
  });

  it('rate-limit mode exits 1 with the 429 lines', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const { out } = startFake(9, t.dir, { FAKE_CLOUDFLARED_MODE: 'rate-limit' });
    await until(() => out.exit, 'exit');
    expect(out.exit).toEqual({ code: 1, signal: null });
    expect(out.stderr.split('\n').map(parseTunnelLine).some((p) => p.kind === 'rate-limited')).toBe(true);
  });
});
