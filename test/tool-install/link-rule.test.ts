import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { targetTriple } from '../../services/tool-install/backends/registry.js';
import { copyFixture, ensureBuilt, f, sandbox, serveDir, type Sandbox, type StaticServer } from './helpers.js';

/**
 * Seed 001: "if the argument is an existing directory or manifest path, Flow treats it as an
 * external CLI source install" — not only ./x, /x, ~/x. A word that is both a directory here and
 * a package name links, and the user is told so and how to get the package instead.
 */
let sb: Sandbox;
let work: string;
let registry: StaticServer;
const PATH_WITHOUT_BACKENDS = '/usr/bin:/bin';

beforeAll(async () => {
  ensureBuilt();
  sb = sandbox();
  work = join(sb.dir, 'work');
  mkdirSync(work);
  copyFixture('echo-sh', work);
  mkdirSync(join(work, 'nested/deeper'), { recursive: true });
  copyFixture('echo-args', join(work, 'nested/deeper'));
  mkdirSync(join(work, 'no-manifest'));
  writeFileSync(join(work, 'no-manifest/main.go'), 'package main\n');
  mkdirSync(join(work, 'dangling'));
  symlinkSync(join(work, 'gone.toml'), join(work, 'dangling/flow-tool.toml'));
  mkdirSync(join(work, 'dir-manifest/flow-tool.toml'), { recursive: true });

  // A registry that also has a package called echo-sh.
  const root = join(sb.dir, 'registry');
  const script = '#!/bin/sh\necho the echo-sh package\n';
  mkdirSync(join(root, 'packages/echo-sh/1.0.0'), { recursive: true });
  writeFileSync(join(root, 'packages/echo-sh/1.0.0/echo-sh'), script);
  writeFileSync(
    join(root, 'packages/echo-sh/latest.json'),
    JSON.stringify({
      name: 'echo-sh',
      version: '1.0.0',
      bins: ['echo-sh'],
      targets: { [targetTriple()]: { binaries: { 'echo-sh': 'packages/echo-sh/1.0.0/echo-sh' }, sha256: { 'echo-sh': createHash('sha256').update(script).digest('hex') } } },
    }),
  );
  registry = await serveDir(root);
}, 240_000);
afterAll(async () => {
  await registry?.close();
  sb?.cleanup();
});

const env = () => ({ ...sb.env, FLOW_REGISTRY_URL: registry.url, PATH: PATH_WITHOUT_BACKENDS });

function noRawErrno(stderr: string): void {
  expect(stderr).not.toMatch(/ENOENT|ENOTDIR|lstat|realpath|errno|at .*\.js:\d+/);
}

describe('f install <word>: an existing directory links, even without ./', () => {
  it('given a directory echo-sh here that is also a registry package, when installing echo-sh, then it links and says how to get the package', async () => {
    const r = await f(['install', 'echo-sh'], env(), { cwd: work });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Installed echo-sh (linked to ${join(work, 'echo-sh')})`);
    expect(r.stderr).toContain(`"echo-sh" is an existing directory (${join(work, 'echo-sh')}), so it was linked as a tool`);
    expect(r.stderr).toContain('to install the package "echo-sh" instead, pass --backend auto');
    expect(readFileSync(join(sb.home, 'cli/links/echo-sh.toml'), 'utf8')).toContain(`source_root = "${join(work, 'echo-sh')}"`);
    expect(registry.requests).toEqual([]);
  });

  it('when the same word is given with --backend, then the package is installed instead', async () => {
    const r = await f(['install', 'echo-sh', '--backend', 'registry', '--force'], env(), { cwd: work });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('installed echo-sh 1.0.0 (echo-sh) from');
    expect(readFileSync(join(sb.home, 'bin/echo-sh'), 'utf8')).toContain('the echo-sh package');
    expect(registry.requests).toContain('/packages/echo-sh/latest.json');
  });

  it('an explicit path form links without the package note', async () => {
    const r = await f(['install', './echo-sh'], env(), { cwd: work });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('--backend');
  });

  it('a relative path of several segments links too', async () => {
    const r = await f(['install', 'nested/deeper/echo-args'], env(), { cwd: work });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`linked to ${join(work, 'nested/deeper/echo-args')}`);
  });

  it('a word that names no directory here is still a package', async () => {
    const r = await f(['install', 'not-here'], env(), { cwd: work });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('could not install "not-here" with any package backend');
  });
});

describe('f install <directory without a manifest> says what is missing and what it must contain', () => {
  it('a bare word: names the missing flow-tool.toml, shows a minimal one, and how to get the package instead', async () => {
    const r = await f(['install', 'no-manifest'], env(), { cwd: work });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${join(work, 'no-manifest')} has no flow-tool.toml, so it cannot be linked as a tool`);
    expect(r.stderr).toContain(`Add ${join(work, 'no-manifest', 'flow-tool.toml')} with at least:`);
    for (const line of ['version = 1', 'id = "my-tool"', 'language = "go"', 'binary_name = "my-tool"', '[exec]', 'run = ["go", "run", "."]']) expect(r.stderr).toContain(line);
    expect(r.stderr).toContain('to install the package "no-manifest" instead, pass --backend');
    noRawErrno(r.stderr);
    expect(existsSync(join(sb.home, 'cli/links/no-manifest.toml'))).toBe(false);
  });

  it('a path form: the same, without the package hint', async () => {
    const r = await f(['install', join(work, 'no-manifest')], env());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('has no flow-tool.toml, so it cannot be linked as a tool');
    expect(r.stderr).not.toContain('--backend');
    noRawErrno(r.stderr);
  });

  it('a flow-tool.toml that is a dangling symlink is a missing manifest, not a raw ENOENT', async () => {
    const r = await f(['install', './dangling'], env(), { cwd: work });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('has no flow-tool.toml');
    noRawErrno(r.stderr);
  });

  it('a flow-tool.toml that is a directory is said so', async () => {
    const r = await f(['install', './dir-manifest'], env(), { cwd: work });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('flow-tool.toml is a directory; flow-tool.toml must be a file');
    noRawErrno(r.stderr);
  });

  it('a path that does not exist, and a path under a file, say so in words', async () => {
    const gone = await f(['install', './nothing-here'], env(), { cwd: work });
    expect(gone.stderr).toContain(`${join(work, 'nothing-here')} does not exist`);
    noRawErrno(gone.stderr);
    const under = await f(['install', './no-manifest/main.go/x'], env(), { cwd: work });
    expect(under.code).toBe(1);
    expect(under.stderr).toContain('does not exist');
    noRawErrno(under.stderr);
  });
});
