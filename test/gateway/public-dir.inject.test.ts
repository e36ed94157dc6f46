import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { publicDir } from '../../infra/config.js';
import { tempDir } from '../support/tmp.js';
import { injectGateway, type InjectedGateway } from './inject.js';

/**
 * Seed 003's PUBLIC_DIR: the user's own frontend at `/`. Flow's dashboard moves to /flow/ (where
 * it always is), the API is untouched, and nothing outside the directory is ever served.
 */
const tmp = tempDir('flow-public-dir-');
const site = join(tmp.dir, 'site');
const outside = join(tmp.dir, 'outside');
let gw: InjectedGateway;
let locked: InjectedGateway;

beforeAll(async () => {
  mkdirSync(join(site, 'assets'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(site, 'index.html'), '<h1>my board</h1>');
  writeFileSync(join(site, 'assets', 'app.js'), 'console.log("mine")');
  writeFileSync(join(site, '.env'), 'SECRET=1');
  writeFileSync(join(outside, 'secret.txt'), 'outside secret');
  writeFileSync(join(tmp.dir, 'secret.txt'), 'sibling secret');
  symlinkSync(join(outside, 'secret.txt'), join(site, 'leak.txt'));
  symlinkSync(outside, join(site, 'linked-dir'));
  symlinkSync(join(site, 'assets', 'app.js'), join(site, 'alias.js'));
  gw = await injectGateway({ publicDir: site });
  locked = await injectGateway({ publicDir: site, password: 'a long enough password' });
});
afterAll(async () => {
  await gw?.close();
  await locked?.close();
  tmp.cleanup();
});

const get = (url: string, g = gw) => g.app.inject({ method: 'GET', url, headers: { host: '127.0.0.1' } });

describe('PUBLIC_DIR', () => {
  it('given a frontend, then / serves its index.html and its files; the dashboard is at /flow/', async () => {
    const index = await get('/');
    expect(index.statusCode).toBe(200);
    expect(index.body).toBe('<h1>my board</h1>');
    expect((await get('/assets/app.js')).body).toContain('mine');
    const dashboard = await get('/flow/');
    expect(dashboard.statusCode).toBe(200);
    expect(dashboard.body).toContain('src="js/main.js"');
    expect((await get('/flow/js/main.js')).statusCode).toBe(200);
    const bare = await get('/flow');
    expect(bare.statusCode).toBe(302);
    expect(bare.headers.location).toBe('/flow/');
  });

  it('given the API, then it is untouched by the catch-all; an unknown path is Flow\'s JSON 404', async () => {
    expect((await get('/api/backends')).json()).toEqual({ backends: [] });
    for (const url of ['/nope.html', '/api/nothing', '/app/x/y']) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.json<{ error: { code: string } }>().error.code, url).toBe('not_found');
    }
  });

  it('given traversal, encoded or not, then nothing outside the directory is served', async () => {
    for (const url of ['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/assets/..%2f..%2fsecret.txt', '/%2e%2e%2f%2e%2e%2fsecret.txt', '/.env', '/assets/%2e%2e/.env']) {
      const res = await get(url);
      expect(res.statusCode, url).not.toBe(200);
      expect(res.body, url).not.toMatch(/sibling secret|outside secret|SECRET=1/);
    }
  });

  it('given links, then one that stays inside is followed and one that leads out (file or directory) is refused', async () => {
    expect((await get('/alias.js')).body).toContain('mine');
    for (const url of ['/leak.txt', '/linked-dir/secret.txt']) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.body, url).not.toContain('outside secret');
    }
  });

  it('given a link swapped between a file inside and one outside while requests run, then the outside one is never served', async () => {
    writeFileSync(join(site, 'inside.txt'), 'inside content');
    symlinkSync(join(site, 'inside.txt'), join(site, 'swap.txt'));
    // Another process flips the link (atomically, by rename) as fast as it can: a check of the
    // path followed by an open of the path would, now and then, open the outside file.
    const swapper = spawn(process.execPath, ['-e', `
      const fs = require('node:fs');
      const [inside, outside, link] = process.argv.slice(1);
      for (let i = 0; ; i++) {
        const tmp = link + '.' + (i % 2);
        try { fs.unlinkSync(tmp); } catch {}
        fs.symlinkSync(i % 2 ? outside : inside, tmp);
        fs.renameSync(tmp, link);
      }`, join(site, 'inside.txt'), join(outside, 'secret.txt'), join(site, 'swap.txt')], { stdio: 'ignore' });
    const seen = { inside: 0, refused: 0 };
    try {
      for (let i = 0; i < 1500; i++) {
        const res = await get('/swap.txt');
        expect(res.body, `request ${i}`).not.toContain('outside secret');
        if (res.statusCode === 200) {
          expect(res.body).toBe('inside content');
          seen.inside++;
        } else {
          expect(res.statusCode).toBe(404);
          seen.refused++;
        }
      }
    } finally {
      swapper.kill('SIGKILL');
      await new Promise((r) => swapper.once('exit', r));
    }
    // Both sides of the swap were met: the race was really run.
    expect(seen.inside).toBeGreaterThan(0);
    expect(seen.refused).toBeGreaterThan(0);
  }, 60_000);

  it('given a file, then it is served as a static file server serves it: type, ETag and 304, a byte range, HEAD; a directory gets its slash', async () => {
    const first = await get('/assets/app.js');
    expect(first.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(first.headers['cache-control']).toBe('public, max-age=0');
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^W\/"/);
    const again = await gw.app.inject({ method: 'GET', url: '/assets/app.js', headers: { host: '127.0.0.1', 'if-none-match': etag } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    const part = await gw.app.inject({ method: 'GET', url: '/assets/app.js', headers: { host: '127.0.0.1', range: 'bytes=0-6' } });
    expect(part.statusCode).toBe(206);
    expect(part.body).toBe('console');
    expect(part.headers['content-range']).toBe('bytes 0-6/19');
    const outOfRange = await gw.app.inject({ method: 'GET', url: '/assets/app.js', headers: { host: '127.0.0.1', range: 'bytes=100-' } });
    expect(outOfRange.statusCode).toBe(416);
    const head = await gw.app.inject({ method: 'HEAD', url: '/', headers: { host: '127.0.0.1' } });
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-length']).toBe('17');
    expect(head.body).toBe('');
    writeFileSync(join(site, 'assets', 'index.html'), '<p>assets</p>');
    const bare = await get('/assets?x=1');
    expect(bare.statusCode).toBe(301);
    expect(bare.headers.location).toBe('/assets/?x=1');
    expect((await get('/assets/')).body).toBe('<p>assets</p>');
  });

  it('given a password, then the frontend loads without a login but unknown API paths still need one (401)', async () => {
    expect((await get('/', locked)).statusCode).toBe(200);
    expect((await get('/flow/', locked)).statusCode).toBe(200);
    expect((await get('/api/backends', locked)).statusCode).toBe(401);
    expect((await get('/api/nothing', locked)).statusCode).toBe(401);
    expect((await get('/app/x/y', locked)).statusCode).toBe(401);
  });

  it('given no PUBLIC_DIR, then the dashboard is at / and at /flow/', async () => {
    const plain = await injectGateway();
    try {
      expect((await get('/', plain)).body).toContain('src="js/main.js"');
      expect((await get('/flow/', plain)).body).toContain('src="js/main.js"');
      expect((await get('/flow/styles.css', plain)).statusCode).toBe(200);
    } finally {
      await plain.close();
    }
  });

  it('reads PUBLIC_DIR when FLOW_PUBLIC_DIR is unset, and stops a start on one that is missing or not a directory', () => {
    expect(publicDir({})).toBeUndefined();
    expect(publicDir({ PUBLIC_DIR: site })).toBe(site);
    expect(publicDir({ FLOW_PUBLIC_DIR: site, PUBLIC_DIR: '/nowhere' })).toBe(site);
    expect(() => publicDir({ PUBLIC_DIR: join(tmp.dir, 'missing') })).toThrow(/PUBLIC_DIR=\S+missing does not exist/);
    expect(() => publicDir({ PUBLIC_DIR: join(site, 'index.html') })).toThrow(/is not a directory/);
  });
});
