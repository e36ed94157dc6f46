import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbedded, type Embedded } from '../../infra/embedded.js';
import { runF } from '../support/run-f.js';
import { tempDir } from '../support/tmp.js';
import { FAKE_CLOUDFLARED, startOrigin } from './helpers.js';

/**
 * Seed 002's first run, wired as `f up` wires it: no cloudflared on PATH, `f tunnel start`
 * (the built CLI) waits while the host downloads a fake cloudflared build from a local server,
 * shows the progress, and then prints the public URL of the downloaded program's tunnel.
 */
const BUILD = Buffer.from(`#!/bin/sh\n# ${'padding '.repeat(2000)}\nexec '${process.execPath}' '${FAKE_CLOUDFLARED}' "$@"\n`);
let server: Server;
let flow: Embedded;
let origin: Awaited<ReturnType<typeof startOrigin>>;
const t = tempDir('flow-cfd-e2e-');
const saved = { ...process.env };
const home = join(t.dir, 'home');

beforeAll(async () => {
  // Sent in pieces with pauses, so the download lasts long enough to be watched.
  server = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': BUILD.length });
    const pieces = 8;
    const size = Math.ceil(BUILD.length / pieces);
    let i = 0;
    const next = () => {
      if (i >= pieces) return res.end();
      res.write(BUILD.subarray(i * size, (i + 1) * size));
      i += 1;
      setTimeout(next, 250);
    };
    next();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  mkdirSync(home, { recursive: true });
  Object.assign(process.env, {
    FLOW_HOME: home,
    PATH: '/usr/bin:/bin',
    FLOW_TUNNEL_RESOLVE_DIR: join(t.dir, 'resolve'),
    FLOW_CLOUDFLARED_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/cloudflared`,
    FLOW_CLOUDFLARED_SHA256: createHash('sha256').update(BUILD).digest('hex'),
  });
  delete process.env.FLOW_TUNNEL_COMMAND;
  origin = await startOrigin();
  flow = await startEmbedded({ port: 0, log: () => {} });
}, 60_000);
afterAll(async () => {
  await flow?.close();
  await origin?.close();
  await new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  });
  process.env = saved;
  t.cleanup();
});

describe('f tunnel start with no cloudflared installed', () => {
  it('downloads it into $FLOW_HOME/bin with visible progress, then prints the tunnel URL', async () => {
    const r = await runF(['tunnel', 'start', '--port', String(origin.port), '--name', 'web'], { FLOW_URL: flow.url, PATH: '/usr/bin:/bin' }, 60_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/f: downloading cloudflared \d{4}\.\d+\.\d+ from http:\/\/127\.0\.0\.1:\d+\/cloudflared: \d+% \(\d+ of \d+ bytes\)/);
    expect(r.stderr).toMatch(/f: cloudflared \d{4}\.\d+\.\d+ downloaded and verified/);
    expect(r.stdout).toMatch(/^web: https:\/\/[a-z0-9-]+\.trycloudflare\.com → http:\/\/localhost:\d+\n/);
    expect(readFileSync(join(home, 'bin/cloudflared'))).toEqual(BUILD);
    expect(existsSync(join(home, 'bin/cloudflared.json'))).toBe(true);
    await runF(['tunnel', 'rm', 'web'], { FLOW_URL: flow.url });
  });
});
