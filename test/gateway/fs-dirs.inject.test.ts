import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fsRoutePlugin, type DirListingView } from '../../gateway/routes/fs.js';
import { tempDir } from '../support/tmp.js';
import { injectGateway, type InjectedGateway } from './inject.js';

/**
 * GET /api/fs/dirs, the new-instance dialog's directory picker: it lists subdirectories inside
 * the configured roots only; every way out (.., encoded dots, symlinks) is refused.
 */
interface ErrorBody {
  error: { code: string; message: string };
}

let gw: InjectedGateway;
let root: ReturnType<typeof tempDir>;
let outside: ReturnType<typeof tempDir>;

beforeAll(async () => {
  root = tempDir('flow-dirs-root-');
  outside = tempDir('flow-dirs-outside-');
  for (const d of ['alpha/deep', 'beta', '.hidden']) mkdirSync(join(root.dir, d), { recursive: true });
  writeFileSync(join(root.dir, 'a-file.txt'), 'not a directory');
  mkdirSync(join(outside.dir, 'secret'));
  symlinkSync(join(root.dir, 'beta'), join(root.dir, 'link-in'));
  symlinkSync(outside.dir, join(root.dir, 'link-out'));
  gw = await injectGateway({ extraRoutes: [fsRoutePlugin({ roots: () => [root.dir] })] });
});

afterAll(async () => {
  await gw?.close();
  root?.cleanup();
  outside?.cleanup();
});

const q = (path: string) => `/api/fs/dirs?path=${encodeURIComponent(path)}`;

describe('GET /api/fs/dirs', () => {
  it('given no path, lists the roots', async () => {
    const r = await gw.call<DirListingView>('GET', '/api/fs/dirs');
    expect(r.status).toBe(200);
    expect(r.body.path).toBeNull();
    expect(r.body.entries.map((e) => e.path)).toEqual(r.body.roots);
  });

  it('given a root, lists its directories (links inside included, files and links out left out), hidden ones last', async () => {
    const r = await gw.call<DirListingView>('GET', q(root.dir));
    expect(r.status).toBe(200);
    expect(r.body.entries.map((e) => e.name)).toEqual(['alpha', 'beta', 'link-in', '.hidden']);
    expect(r.body.parent).toBeNull();
    const sub = await gw.call<DirListingView>('GET', q(join(root.dir, 'alpha')));
    expect(sub.body.entries.map((e) => e.name)).toEqual(['deep']);
    expect(sub.body.parent).toBe(r.body.path);
  });

  it.each([
    ['a path with ..', () => `${root.dir}/alpha/../..`, 400, /\.\./],
    ['an encoded ..', () => `${root.dir}/%2e%2e/%2e%2e`, 400, /encoded/],
    ['a relative path', () => 'alpha', 400, /not absolute/],
    ['a directory outside the roots', () => outside.dir, 403, /outside/],
    ['a missing directory outside the roots', () => join(outside.dir, 'nope'), 403, /outside/],
    ['a symlink pointing out', () => join(root.dir, 'link-out'), 403, /leads to .* outside/],
    ['a path through a symlink pointing out', () => join(root.dir, 'link-out', 'secret'), 403, /outside/],
    ['a missing directory', () => join(root.dir, 'nope'), 404, /no directory/],
    ['a file', () => join(root.dir, 'a-file.txt'), 404, /file, not a directory/],
  ])('given %s, it refuses with a clear message', async (_what, path, status, message) => {
    const r = await gw.call<ErrorBody>('GET', q(path()));
    expect(r.status).toBe(status);
    expect(r.body.error.message).toMatch(message);
  });

  it('given the query itself double-encoded or a NUL byte, it refuses with 400', async () => {
    const dotted = await gw.call<ErrorBody>('GET', `/api/fs/dirs?path=${encodeURIComponent(root.dir)}%2F%252e%252e`);
    expect(dotted.status).toBe(400);
    const nul = await gw.call<ErrorBody>('GET', `/api/fs/dirs?path=${encodeURIComponent(root.dir)}%00`);
    expect(nul.status).toBe(400);
  });

  it('given an instance created in a directory, it comes first among the recent ones', async () => {
    const dir = join(root.dir, 'alpha', 'deep');
    const made = await gw.call('POST', '/api/instances', { directory: dir, id: 'picked', start: false });
    expect(made.status).toBeLessThan(300);
    const r = await gw.call<DirListingView>('GET', '/api/fs/dirs');
    expect(r.body.recent[0]).toBe(dir);
  });
});
