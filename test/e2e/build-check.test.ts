import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tempDir } from '../support/tmp.js';

/**
 * scripts/build.mjs, what `npm start`, `npm run build` and `prepare` run, on a small project of
 * its own: the real script and the real tsc, so "dist is current" is judged as on Flow's tree.
 */
const repo = resolve('.');
const t = tempDir('flow-build-check-');
afterAll(t.cleanup);
const root = t.dir;

function project(): void {
  mkdirSync(join(root, 'scripts'));
  mkdirSync(join(root, 'src', 'deep'), { recursive: true });
  copyFileSync(join(repo, 'scripts', 'build.mjs'), join(root, 'scripts', 'build.mjs'));
  symlinkSync(join(repo, 'node_modules'), join(root, 'node_modules'));
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'p', type: 'module' }));
  writeFileSync(join(root, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, types: [], outDir: 'dist', rootDir: '.' },
  }));
  writeFileSync(join(root, 'tsconfig.build.json'), JSON.stringify({
    extends: './tsconfig.json',
    compilerOptions: { incremental: true, tsBuildInfoFile: 'dist/.tsbuildinfo' },
    include: ['src'],
    exclude: ['**/*.test.ts'],
  }));
  writeFileSync(join(root, 'src', 'a.ts'), 'export const a: number = 1;\n');
  writeFileSync(join(root, 'src', 'deep', 'b.ts'), "import { a } from '../a.js';\nexport const b = a + 1;\n");
  writeFileSync(join(root, 'src', 'a.test.ts'), 'this is not TypeScript, and a build that compiled it would fail\n');
}

function build(): { code: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, encoding: 'utf8' });
  return { code: r.status, stderr: r.stderr };
}

/** A file edited just after the last build started, whatever the clock's grain. */
function edit(rel: string, text: string): void {
  const path = join(root, rel);
  writeFileSync(path, text);
  const stamp = join(root, 'dist', '.build-ok');
  if (!existsSync(stamp)) return;
  const justAfter = new Date(statSync(stamp).mtimeMs + 20);
  utimesSync(path, justAfter, justAfter);
}

const out = (rel: string) => join(root, 'dist', rel);

describe('scripts/build.mjs: dist is built only when it is not current', () => {
  project();

  it('given no build yet, then it builds every source (tests excluded) and stamps dist', () => {
    const r = build();
    expect(r).toEqual({ code: 0, stderr: 'building dist (no successful build yet)\n' });
    expect(readFileSync(out('src/deep/b.js'), 'utf8')).toContain('a + 1');
    expect(existsSync(out('src/a.test.js'))).toBe(false);
    expect(existsSync(out('.build-ok'))).toBe(true);
  });

  it('given a built tree, then nothing is built and nothing is said', () => {
    expect(build()).toEqual({ code: 0, stderr: '' });
  });

  it('given a source edited since, then it says which and builds it', () => {
    edit('src/a.ts', 'export const a: number = 41;\n');
    expect(build()).toEqual({ code: 0, stderr: 'building dist (src/a.ts changed)\n' });
    expect(readFileSync(out('src/a.js'), 'utf8')).toContain('41');
    expect(build()).toEqual({ code: 0, stderr: '' });
  });

  it('given an output deleted by hand, then it names it and writes it again (the incremental build info is not trusted)', () => {
    rmSync(out('src/deep/b.js'));
    expect(build()).toEqual({ code: 0, stderr: 'building dist (dist/src/deep/b.js is missing)\n' });
    expect(readFileSync(out('src/deep/b.js'), 'utf8')).toContain('a + 1');
  });

  it('given a build setting changed, then it builds again', () => {
    edit('tsconfig.build.json', readFileSync(join(root, 'tsconfig.build.json'), 'utf8'));
    expect(build()).toEqual({ code: 0, stderr: 'building dist (tsconfig.build.json changed)\n' });
  });

  it('given a source that does not compile, then it fails, and keeps failing (not running a stale dist) until it is fixed', () => {
    edit('src/a.ts', 'export const a: number = "one";\n');
    const failed = build();
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toBe('building dist (src/a.ts changed)\n');
    expect(existsSync(out('.build-ok'))).toBe(false);
    expect(build()).toMatchObject({ stderr: 'building dist (no successful build yet)\n' });
    edit('src/a.ts', 'export const a: number = 1;\n');
    expect(build()).toEqual({ code: 0, stderr: 'building dist (no successful build yet)\n' });
    expect(build()).toEqual({ code: 0, stderr: '' });
  });
});
