import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { create as createTar } from 'tar';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tunnelStreamId, type TunnelContext } from '../../actors/tunnel/index.js';
import { kindFor } from '../../actors/index.js';
import { InProcessLiveBus } from '../../services/bus/in-process.js';
import { ActorProjector, readActor } from '../../services/store/projections.js';
import { ActorHost } from '../../services/host/actor-host.js';
import { EventStore } from '../../services/store/event-store.js';
import { CLOUDFLARED_SHA256, CLOUDFLARED_VERSION, cloudflaredAsset, cloudflaredPlan, ensureCloudflared, readCloudflaredRecord } from '../../services/tunnel/cloudflared-download.js';
import { tunnelServices } from '../../services/tunnel/index.js';
import { resolverFromDir } from '../../services/tunnel/resolve.js';
import { memoryTokenStore } from '../../services/tunnel/tokens.js';
import { ShiftableClock } from '../support/host.js';
import { tempDir } from '../support/tmp.js';
import { FAKE_CLOUDFLARED, startOrigin, until } from './helpers.js';

/**
 * Seed 002: cloudflared is downloaded on first use. A local HTTP server (port 0) serves a fake
 * cloudflared build — an executable wrapping test/fixtures/fake-cloudflared.mjs — right, wrong,
 * truncated, oversized, slow, and behind redirects.
 */
const BUILD = Buffer.from(`#!/bin/sh\nexec '${process.execPath}' '${FAKE_CLOUDFLARED}' "$@"\n`);
const SHA = createHash('sha256').update(BUILD).digest('hex');

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
let server: Server;
let base: string;
const routes = new Map<string, Handler>();
const hits: string[] = [];
const held: (() => void)[] = [];
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    const h = routes.get(req.url ?? '');
    if (h) return h(req, res);
    res.writeHead(404).end('not found');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  routes.set('/right', (_q, res) => res.writeHead(200, { 'content-length': BUILD.length }).end(BUILD));
  routes.set('/wrong', (_q, res) => res.writeHead(200, { 'content-length': BUILD.length }).end(Buffer.from(BUILD.toString().replace('exec', 'echo'))));
  routes.set('/truncated', (_q, res) => {
    res.writeHead(200, { 'content-length': BUILD.length * 2 });
    res.write(BUILD);
    setTimeout(() => res.socket?.destroy(), 20);
  });
  routes.set('/slow', (_q, res) => {
    res.writeHead(200, { 'content-length': BUILD.length });
    res.write(BUILD.subarray(0, 5)); // then nothing: an idle server
  });
  routes.set('/to-file', (_q, res) => res.writeHead(302, { location: 'file:///etc/passwd' }).end());
  routes.set('/to-right', (_q, res) => res.writeHead(302, { location: '/right' }).end());
  routes.set('/delayed', (_q, res) => setTimeout(() => res.writeHead(200, { 'content-length': BUILD.length }).end(BUILD), 300));
  // Headers at once, the bytes only when the test lets them go: a download that lasts as long as the test needs.
  routes.set('/held', (_q, res) => {
    res.writeHead(200, { 'content-length': BUILD.length });
    res.flushHeaders();
    held.push(() => res.end(BUILD));
  });
});
afterAll(() => new Promise<void>((r) => {
  server.closeAllConnections();
  server.close(() => r());
}));
afterEach(async () => {
  hits.length = 0;
  for (const release of held.splice(0)) release();
  while (cleanups.length) await cleanups.pop()!();
});

function home(): string {
  const t = tempDir('flow-cfd-');
  cleanups.push(t.cleanup);
  return t.dir;
}

const envFor = (path: string, extra: Record<string, string> = {}) => ({ FLOW_CLOUDFLARED_URL: `${base}${path}`, FLOW_CLOUDFLARED_SHA256: SHA, ...extra });

/** Nothing but what a finished download leaves: no .part or half-written files. */
function binFiles(h: string): string[] {
  return existsSync(join(h, 'bin')) ? readdirSync(join(h, 'bin')).sort() : [];
}

describe('which release asset, which digest', () => {
  it('names assets as cloudflare publishes them, per OS/arch', () => {
    expect(cloudflaredAsset('linux', 'x64')).toEqual({ name: 'cloudflared-linux-amd64', tgz: false });
    expect(cloudflaredAsset('linux', 'arm64')).toEqual({ name: 'cloudflared-linux-arm64', tgz: false });
    expect(cloudflaredAsset('darwin', 'x64')).toEqual({ name: 'cloudflared-darwin-amd64.tgz', tgz: true });
    expect(cloudflaredAsset('darwin', 'arm64')).toEqual({ name: 'cloudflared-darwin-arm64.tgz', tgz: true });
    expect(cloudflaredAsset('win32', 'x64')).toEqual({ name: 'cloudflared-windows-amd64.exe', tgz: false });
    expect(() => cloudflaredAsset('aix', 'ppc64')).toThrow('cloudflare publishes no cloudflared build for aix/ppc64');
  });

  it('by default: the pinned version from GitHub releases, with its pinned sha256', () => {
    const plan = cloudflaredPlan('/h', {}, 'linux', 'x64');
    expect(plan.url.href).toBe(`https://github.com/cloudflare/cloudflared/releases/download/${CLOUDFLARED_VERSION}/cloudflared-linux-amd64`);
    expect(plan.sha256).toBe(CLOUDFLARED_SHA256[CLOUDFLARED_VERSION]!['cloudflared-linux-amd64']);
    expect(plan.dest).toBe('/h/bin/cloudflared');
  });

  it('a mirror keeps the pinned digest; FLOW_CLOUDFLARED_SHA256 overrides it; a version without one must say its digest', () => {
    expect(cloudflaredPlan('/h', { FLOW_CLOUDFLARED_URL: 'https://mirror.test/cfd' }, 'linux', 'arm64').sha256).toBe(CLOUDFLARED_SHA256[CLOUDFLARED_VERSION]!['cloudflared-linux-arm64']);
    expect(cloudflaredPlan('/h', { FLOW_CLOUDFLARED_SHA256: SHA.toUpperCase() }, 'linux', 'x64').sha256).toBe(SHA);
    expect(() => cloudflaredPlan('/h', { FLOW_CLOUDFLARED_VERSION: '2020.1.0' }, 'linux', 'x64')).toThrow(/no pinned checksum for 2020\.1\.0\/cloudflared-linux-amd64; set FLOW_CLOUDFLARED_SHA256 to verify it/);
    expect(() => cloudflaredPlan('/h', { FLOW_CLOUDFLARED_SHA256: 'abc' })).toThrow('FLOW_CLOUDFLARED_SHA256 must be 64 hex digits');
    expect(() => cloudflaredPlan('/h', { FLOW_CLOUDFLARED_URL: 'ftp://x/y' })).toThrow('must be http(s)');
  });
});

describe('the pinned table', () => {
  it('pins each asset cloudflare ships for the default version that a second source confirms; darwin-arm64 has none', () => {
    expect(Object.keys(CLOUDFLARED_SHA256[CLOUDFLARED_VERSION]!).sort()).toEqual(['cloudflared-darwin-amd64.tgz', 'cloudflared-linux-amd64', 'cloudflared-linux-arm64']);
    for (const table of Object.values(CLOUDFLARED_SHA256)) for (const digest of Object.values(table)) expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(cloudflaredPlan('/h', {}, 'darwin', 'x64')).toMatchObject({ asset: 'cloudflared-darwin-amd64.tgz', tgz: true, sha256: CLOUDFLARED_SHA256[CLOUDFLARED_VERSION]!['cloudflared-darwin-amd64.tgz'], unverified: null });
  });

  it('given an asset with no pinned checksum, then it is refused by default, saying how to verify it or opt out', () => {
    expect(() => cloudflaredPlan('/h', {}, 'darwin', 'arm64')).toThrow(`no pinned checksum for ${CLOUDFLARED_VERSION}/cloudflared-darwin-arm64.tgz; set FLOW_CLOUDFLARED_SHA256 to verify it`);
    expect(() => cloudflaredPlan('/h', {}, 'darwin', 'arm64')).toThrow(/FLOW_CLOUDFLARED_UNVERIFIED=1/);
    expect(cloudflaredPlan('/h', { FLOW_CLOUDFLARED_SHA256: SHA }, 'darwin', 'arm64')).toMatchObject({ sha256: SHA, unverified: null });
    expect(cloudflaredPlan('/h', { FLOW_CLOUDFLARED_UNVERIFIED: '1' }, 'darwin', 'arm64')).toMatchObject({ sha256: null, unverified: expect.stringMatching(/^no pinned checksum for .*FLOW_CLOUDFLARED_UNVERIFIED=1/) });
    // The opt-out never weakens a pinned digest.
    expect(cloudflaredPlan('/h', { FLOW_CLOUDFLARED_UNVERIFIED: '1' }, 'linux', 'x64').sha256).toBe(CLOUDFLARED_SHA256[CLOUDFLARED_VERSION]!['cloudflared-linux-amd64']);
    expect(() => cloudflaredPlan('/h', { FLOW_CLOUDFLARED_UNVERIFIED: 'yes' }, 'darwin', 'arm64')).toThrow('FLOW_CLOUDFLARED_UNVERIFIED is 1');
  });
});

describe('ensureCloudflared against a local server', () => {
  it('right bytes: lands executable in $FLOW_HOME/bin with its version recorded, reporting progress; it runs', async () => {
    const h = home();
    const seen: number[] = [];
    let started: string | null = null;
    const got = await ensureCloudflared(h, envFor('/right'), { onStart: (p, total) => (started = `${p.version} ${total}`), onData: (r) => seen.push(r) });
    expect(got).toMatchObject({ path: join(h, 'bin/cloudflared'), downloaded: true });
    expect(started).toBe(`${CLOUDFLARED_VERSION} ${BUILD.length}`);
    expect(seen.at(-1)).toBe(BUILD.length);
    expect(statSync(got.path).mode & 0o777).toBe(0o755);
    expect(readFileSync(got.path)).toEqual(BUILD);
    expect(readCloudflaredRecord(h)).toMatchObject({ version: CLOUDFLARED_VERSION, asset: cloudflaredAsset().name, sha256: SHA, bytes: BUILD.length, url: `${base}/right` });
    expect(binFiles(h)).toEqual(['cloudflared', 'cloudflared.json']);
    const r = spawnSync(got.path, ['--version'], { encoding: 'utf8' });
    expect(r.stderr).toContain('usage: tunnel --url');
    // A second start finds it and asks nobody.
    hits.length = 0;
    expect((await ensureCloudflared(h, envFor('/right'))).downloaded).toBe(false);
    expect(hits).toEqual([]);
  });

  it('wrong bytes: refused with both digests, nothing left behind', async () => {
    const h = home();
    await expect(ensureCloudflared(h, envFor('/wrong'))).rejects.toThrow(new RegExp(`checksum mismatch for ${base}/wrong: expected sha256 ${SHA}`));
    expect(binFiles(h)).toEqual([]);
  });

  it('truncated: refused, nothing left behind', async () => {
    const h = home();
    await expect(ensureCloudflared(h, envFor('/truncated'))).rejects.toThrow(/truncated|stopped after|aborted|failed/);
    expect(binFiles(h)).toEqual([]);
  });

  it('oversized: refused before it fills the disk', async () => {
    const h = home();
    await expect(ensureCloudflared(h, envFor('/right', { FLOW_CLOUDFLARED_MAX_BYTES: '10' }))).rejects.toThrow(/over the download limit of 10/);
    expect(binFiles(h)).toEqual([]);
  });

  it('slow: a server that stops sending is abandoned after the idle timeout', async () => {
    const h = home();
    await expect(ensureCloudflared(h, envFor('/slow', { FLOW_CLOUDFLARED_IDLE_MS: '300' }))).rejects.toThrow(/no data from .*\/slow for 0\.3 s/);
    expect(binFiles(h)).toEqual([]);
  });

  it('a redirect to another scheme is refused; an http redirect is followed', async () => {
    const h = home();
    await expect(ensureCloudflared(h, envFor('/to-file'))).rejects.toThrow('only http(s) redirects are followed');
    expect(binFiles(h)).toEqual([]);
    expect((await ensureCloudflared(h, envFor('/to-right'))).downloaded).toBe(true);
  });

  it('concurrent starts download once, and all get the program', async () => {
    const h = home();
    const both = await Promise.all([ensureCloudflared(h, envFor('/delayed')), ensureCloudflared(h, envFor('/delayed')), ensureCloudflared(h, envFor('/delayed'))]);
    expect(hits.filter((x) => x === '/delayed')).toHaveLength(1);
    expect(new Set(both.map((b) => b.path)).size).toBe(1);
    expect(readFileSync(both[0]!.path)).toEqual(BUILD);
  });

  it('the pinned digest is what is checked: a mirror serving other bytes is refused, nothing left behind', async () => {
    const h = home();
    await expect(ensureCloudflared(h, { FLOW_CLOUDFLARED_URL: `${base}/right` }, {}, 'linux', 'x64')).rejects.toThrow(
      new RegExp(`expected sha256 ${CLOUDFLARED_SHA256[CLOUDFLARED_VERSION]!['cloudflared-linux-amd64']} \\(cloudflared ${CLOUDFLARED_VERSION.replaceAll('.', '\\.')}, cloudflared-linux-amd64\\), got ${SHA}`),
    );
    expect(binFiles(h)).toEqual([]);
  });

  it('given no pinned checksum and FLOW_CLOUDFLARED_UNVERIFIED=1, then it is taken with a warning and recorded as unverified', async () => {
    const h = home();
    const warnings: string[] = [];
    const got = await ensureCloudflared(h, { FLOW_CLOUDFLARED_URL: `${base}/right`, FLOW_CLOUDFLARED_UNVERIFIED: '1' }, { onWarning: (l) => warnings.push(l) }, 'linux', 'arm');
    expect(warnings).toEqual([expect.stringContaining(`no pinned checksum for ${CLOUDFLARED_VERSION}/cloudflared-linux-arm; set FLOW_CLOUDFLARED_SHA256 to verify it`)]);
    expect(readFileSync(got.path)).toEqual(BUILD);
    expect(readCloudflaredRecord(h)).toMatchObject({ asset: 'cloudflared-linux-arm', sha256: SHA, verified: false });
  });

  it('a macOS .tgz with the wrong digest: refused before it is unpacked, nothing executable left', async () => {
    const h = home();
    const stage = join(h, 'stage');
    mkdirSync(stage);
    writeFileSync(join(stage, 'cloudflared'), BUILD);
    const tgz = join(h, 'cfd.tgz');
    await createTar({ gzip: true, file: tgz, cwd: stage }, ['cloudflared']);
    const bytes = readFileSync(tgz);
    routes.set('/tgz-wrong', (_q, res) => res.writeHead(200, { 'content-length': bytes.length }).end(bytes));
    await expect(ensureCloudflared(h, { FLOW_CLOUDFLARED_URL: `${base}/tgz-wrong`, FLOW_CLOUDFLARED_SHA256: SHA }, {}, 'darwin', 'arm64')).rejects.toThrow(/checksum mismatch/);
    expect(binFiles(h)).toEqual([]);
  });

  it('a macOS .tgz: the cloudflared inside is extracted and made executable', async () => {
    const h = home();
    const stage = join(h, 'stage');
    mkdirSync(stage);
    writeFileSync(join(stage, 'cloudflared'), BUILD);
    const tgz = join(h, 'cfd.tgz');
    await createTar({ gzip: true, file: tgz, cwd: stage }, ['cloudflared']);
    const bytes = readFileSync(tgz);
    routes.set('/tgz', (_q, res) => res.writeHead(200, { 'content-length': bytes.length }).end(bytes));
    const sha = createHash('sha256').update(bytes).digest('hex');
    const got = await ensureCloudflared(h, { FLOW_CLOUDFLARED_URL: `${base}/tgz`, FLOW_CLOUDFLARED_SHA256: sha }, {}, 'darwin', 'arm64');
    expect(readFileSync(got.path)).toEqual(BUILD);
    expect(statSync(got.path).mode & 0o111).not.toBe(0);
    expect(readCloudflaredRecord(h)).toMatchObject({ asset: 'cloudflared-darwin-arm64.tgz', sha256: sha, verified: true });
  });
});

describe('the tunnel actor downloads a missing cloudflared, then starts it', () => {
  async function hostWith(env: NodeJS.ProcessEnv) {
    const h = home();
    const resolveDir = join(h, 'resolve');
    const origin = await startOrigin();
    cleanups.push(() => origin.close());
    const store = EventStore.open(join(h, 'flow.db'), { host: 'test', projectors: [new ActorProjector(kindFor)], pollMs: 0 });
    // No command given, so the default (cloudflared) runs; PATH has no cloudflared.
    const host = await ActorHost.start({
      store,
      live: new InProcessLiveBus(),
      services: [tunnelServices({ tokens: memoryTokenStore(), resolve: resolverFromDir(resolveDir), env: { PATH: '/usr/bin:/bin', FLOW_TUNNEL_RESOLVE_DIR: resolveDir, ...env }, stopGraceMs: 2000, home: h })],
      clock: new ShiftableClock(),
      log: () => {},
    });
    cleanups.push(async () => {
      await host.stop();
      store.close();
    });
    const id = tunnelStreamId('web');
    return {
      h,
      host,
      origin,
      types: () => store.readStream(id).map((e) => e.type),
      ctx: () => readActor(store.db, id)?.snapshot.context as TunnelContext,
      status: () => readActor(store.db, id)?.status,
    };
  }

  it('given no cloudflared on PATH, when a tunnel starts, then it records the download, runs the downloaded program and gets a URL', async () => {
    const s = await hostWith(envFor('/right'));
    await s.host.dispatch({ type: 'tunnel.start', name: 'web', port: s.origin.port });
    await until(() => s.ctx()?.url != null, `a URL (events: ${s.types().join(', ')})`, 20_000);
    const types = s.types();
    expect(types.slice(0, 2)).toEqual(['START_REQUESTED', 'DOWNLOAD_STARTED']);
    expect(types.indexOf('DOWNLOADED')).toBeLessThan(types.indexOf('PROCESS_STARTED'));
    expect(s.ctx().download).toMatchObject({ status: 'done', version: CLOUDFLARED_VERSION, path: join(s.h, 'bin/cloudflared'), receivedBytes: BUILD.length });
    expect(s.status()).toBe('connected');
  });

  it('wrong bytes fail the tunnel for good, with the reason; nothing is spawned', async () => {
    const s = await hostWith(envFor('/wrong'));
    await s.host.dispatch({ type: 'tunnel.start', name: 'web', port: s.origin.port });
    await until(() => s.status() === 'failed', `failed (is ${s.status()}; ${s.types().join(', ')})`, 20_000);
    expect(s.ctx().lastError).toMatch(/cloudflared is not on PATH and downloading it failed: checksum mismatch/);
    expect(s.types()).not.toContain('PROCESS_STARTED');
  });

  it('a stop during the download stops the tunnel, and the finished download does not start it', async () => {
    const s = await hostWith(envFor('/held'));
    await s.host.dispatch({ type: 'tunnel.start', name: 'web', port: s.origin.port });
    await until(() => s.status() === 'downloading', `downloading (is ${s.status()})`, 20_000);
    await s.host.dispatch({ type: 'tunnel.stop', name: 'web' });
    await until(() => s.status() === 'stopped', `stopped (is ${s.status()})`, 20_000);
    for (const release of held.splice(0)) release();
    await until(() => existsSync(join(s.h, 'bin/cloudflared.json')), 'the download to finish', 20_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(s.types()).not.toContain('PROCESS_STARTED');
    expect(s.status()).toBe('stopped');
  });
});
