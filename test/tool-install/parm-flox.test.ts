import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, f, REPO, sandbox, toolEvents, type Sandbox } from './helpers.js';

/**
 * The parm and flox backends' success paths, against fakes that speak the real programs' CLI and
 * output (test/fixtures/backends/fake-parm.mjs, fake-flox.mjs), put on PATH as `parm` and `flox`.
 */
let sb: Sandbox;
let fakes: string;
let xdg: { config: string; data: string };

function executable(file: string, body: string): void {
  writeFileSync(file, body, { mode: 0o755 });
}

function program(dir: string, name: string, says: string): void {
  mkdirSync(dir, { recursive: true });
  executable(join(dir, name), `#!/bin/sh\necho "${says} $*"\n`);
}

beforeAll(() => {
  ensureBuilt();
  sb = sandbox();
  fakes = join(sb.dir, 'fake-bin');
  mkdirSync(fakes);
  executable(join(fakes, 'parm'), `#!/bin/sh\nexec '${process.execPath}' '${join(REPO, 'test/fixtures/backends/fake-parm.mjs')}' "$@"\n`);
  executable(join(fakes, 'flox'), `#!/bin/sh\nexec '${process.execPath}' '${join(REPO, 'test/fixtures/backends/fake-flox.mjs')}' "$@"\n`);
  xdg = { config: join(sb.dir, 'xdg-config'), data: join(sb.dir, 'xdg-data') };

  // GitHub releases parm can install: a program whose name differs from its repo, and a repo with two.
  const releases = join(sb.dir, 'releases');
  program(join(releases, 'BurntSushi/ripgrep/latest'), 'rg', 'ripgrep 14');
  program(join(releases, 'BurntSushi/ripgrep/13.0.0'), 'rg', 'ripgrep 13');
  program(join(releases, 'acme/duo/latest'), 'duo-a', 'duo a');
  program(join(releases, 'acme/duo/latest'), 'duo-b', 'duo b');
  // The flox catalog: pkg-path -> the programs it provides.
  const catalog = join(sb.dir, 'flox-catalog');
  program(join(catalog, 'ripgrep'), 'rg', 'flox ripgrep');
  program(join(catalog, 'hello'), 'hello', 'flox hello');
  program(join(catalog, 'python312Packages.pip'), 'pip', 'flox pip');
  program(join(catalog, 'python312Packages.pip'), 'pip3', 'flox pip3');
}, 240_000);
afterAll(() => sb?.cleanup());

function env(): Record<string, string> {
  return {
    ...sb.env,
    PATH: `${fakes}:/usr/bin:/bin`,
    XDG_CONFIG_HOME: xdg.config,
    XDG_DATA_HOME: xdg.data,
    FAKE_PARM_RELEASES: join(sb.dir, 'releases'),
    FAKE_PARM_LOG: join(sb.dir, 'parm.log'),
    FAKE_FLOX_CATALOG: join(sb.dir, 'flox-catalog'),
    FAKE_FLOX_LOG: join(sb.dir, 'flox.log'),
  };
}

function calls(log: string): string[][] {
  const file = join(sb.dir, log);
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string[]) : [];
}

function runShim(name: string, ...args: string[]): string {
  const r = spawnSync(join(sb.home, 'bin', name), args, { env: { ...process.env, ...env() }, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim();
}

describe('parm: GitHub releases through yhoundz/parm', () => {
  it('given a release whose program is not named like its repo, when installed with --backend parm, then $FLOW_HOME/bin gets a shim for that program', async () => {
    const r = await f(['install', 'BurntSushi/ripgrep', '--backend', 'parm'], env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Installing BurntSushi/ripgrep::latest');
    expect(r.stderr).toContain(`installed BurntSushi/ripgrep with parm (rg; shims in ${join(sb.home, 'bin')})`);
    expect(runShim('rg', '--version')).toBe('ripgrep 14 --version');
    expect(toolEvents(sb.home, 'ripgrep').map((e) => e.type)).toEqual(['INSTALL_REQUESTED', 'REGISTERED']);
  });

  it("leaves parm's own configuration alone: the user's parm keeps linking into its own bin", () => {
    expect(calls('parm.log').some((a) => a[0] === 'config' && a[1] === 'set')).toBe(false);
    const config = readFileSync(join(xdg.config, 'parm/config.toml'), 'utf8');
    expect(config).toContain(`parm_bin_path = '${join(xdg.data, 'parm/bin')}'`);
    expect(config).not.toContain(sb.home);
  });

  it('--version becomes parm\'s owner/repo@tag, and --allow-unverified its --no-verify', async () => {
    const r = await f(['install', 'BurntSushi/ripgrep', '--backend', 'parm', '--version', '13.0.0', '--allow-unverified'], env());
    expect(r.code, r.stderr).toBe(0);
    expect(calls('parm.log').at(-1)).toEqual(['install', 'BurntSushi/ripgrep@13.0.0', '--no-verify']);
    expect(runShim('rg')).toBe('ripgrep 13');
  });

  it('a release with two programs gets both; --bin picks one; an unknown --bin names what there is', async () => {
    const both = await f(['install', 'acme/duo', '--backend', 'parm'], env());
    expect(both.code, both.stderr).toBe(0);
    expect(runShim('duo-a')).toBe('duo a');
    expect(runShim('duo-b')).toBe('duo b');
    const wrong = await f(['install', 'acme/duo', '--backend', 'parm', '--bin', 'duo-c'], env());
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('parm: acme/duo provides no program "duo-c" (it provides: duo-a, duo-b)');
  });

  it('--json prints only the outcome on stdout; parm\'s own output goes to stderr', async () => {
    const r = await f(['install', 'BurntSushi/ripgrep', '--backend', 'parm', '--json'], env());
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ backend: 'parm', bin: 'rg', installed: join(sb.home, 'bin/rg') });
  });

  it('a release parm cannot find fails with parm\'s reason and leaves no shim', async () => {
    const r = await f(['install', 'acme/missing', '--backend', 'parm'], env());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('404 Not Found');
    expect(r.stderr).toContain('parm install acme/missing failed (exit 1)');
    expect(existsSync(join(sb.home, 'bin/missing'))).toBe(false);
  });

  it('auto falls through an unconfigured registry to parm', async () => {
    const r = await f(['install', 'acme/duo', '--backend', 'auto'], env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('installed acme/duo with parm');
  });
});

describe('flox: packages in a Flow-owned flox environment', () => {
  it('given flox, when a catalog package is installed, then the environment is created with options flox has and the package\'s program gets a shim that runs it through flox activate', async () => {
    const r = await f(['install', 'ripgrep', '--backend', 'flox'], env());
    expect(r.code, r.stderr).toBe(0);
    const envDir = join(sb.home, 'flox');
    expect(calls('flox.log')[0]).toEqual(['init', '-d', envDir, '-n', 'flow']);
    expect(calls('flox.log')).toContainEqual(['install', '-d', envDir, 'ripgrep']);
    expect(r.stderr).toContain("✅ 'ripgrep' installed to environment 'flow'");
    expect(readFileSync(join(sb.home, 'bin/rg'), 'utf8')).toContain(`activate' '-d' '${envDir}' '--' 'rg' "$@"`);
    expect(runShim('rg', '-n', 'x y')).toBe('flox ripgrep -n x y');
  });

  it('a second package adds only its own programs; a package with several gets them all', async () => {
    const r = await f(['install', 'hello', '--backend', 'flox'], env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('installed hello with flox (hello;');
    expect(runShim('hello')).toBe('flox hello');
    const pip = await f(['install', 'python312Packages.pip', '--backend', 'flox', '--json'], env());
    expect(pip.code, pip.stderr).toBe(0);
    expect(JSON.parse(pip.stdout)).toMatchObject({ backend: 'flox', bin: 'pip' });
    expect(runShim('pip3')).toBe('flox pip3');
  });

  it('installing an installed package again is fine and keeps its shim', async () => {
    const r = await f(['install', 'hello', '--backend', 'flox'], env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("Package with id 'hello' already installed");
    expect(runShim('hello')).toBe('flox hello');
  });

  it('--version becomes flox\'s pkg@version', async () => {
    await f(['install', 'ripgrep', '--backend', 'flox', '--version', '14.1.0', '--force'], env());
    expect(calls('flox.log')).toContainEqual(['install', '-d', join(sb.home, 'flox'), 'ripgrep@14.1.0']);
  });

  it('a package flox cannot resolve fails with flox\'s reason and leaves no shim', async () => {
    const r = await f(['install', 'no-such-thing', '--backend', 'flox'], env());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Could not find package 'no-such-thing'");
    expect(r.stderr).toContain('flox install no-such-thing failed (exit 1)');
    expect(existsSync(join(sb.home, 'bin/no-such-thing'))).toBe(false);
  });
});
