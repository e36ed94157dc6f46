import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { targetTriple } from '../../services/tool-install/backends/registry.js';
import { ensureBuilt, f, sandbox, serveDir, toolEvents, type Sandbox, type StaticServer } from './helpers.js';

let sb: Sandbox;
let registry: StaticServer;
const PATH_WITHOUT_BACKENDS = '/usr/bin:/bin';

/** A registry in myflow.sh's layout: packages/<name>/latest.json and the binaries it names. */
function publishPackage(root: string, name: string, script: string, withSha: boolean): void {
  const dir = join(root, 'packages', name);
  mkdirSync(join(dir, '1.0.0'), { recursive: true });
  writeFileSync(join(dir, '1.0.0', name), script);
  const sha = createHash('sha256').update(script).digest('hex');
  const manifest = {
    name,
    version: '1.0.0',
    bins: [name],
    targets: { [targetTriple()]: { binaries: { [name]: `packages/${name}/1.0.0/${name}` }, sha256: withSha ? { [name]: sha } : {} } },
  };
  writeFileSync(join(dir, 'latest.json'), JSON.stringify(manifest));
}

beforeAll(async () => {
  ensureBuilt();
  sb = sandbox();
  const root = join(sb.dir, 'registry');
  publishPackage(root, 'hello-pkg', '#!/bin/sh\necho hello from a package\n', true);
  publishPackage(root, 'unsigned-pkg', '#!/bin/sh\necho unverified\n', false);
  registry = await serveDir(root);
}, 240_000);
afterAll(async () => {
  await registry?.close();
  sb?.cleanup();
});

describe('f install <name>: package backends, as before (registry, parm, flox)', () => {
  it('the registry backend installs a sha256-verified binary into $FLOW_HOME/bin', async () => {
    const r = await f(['install', 'hello-pkg'], { ...sb.env, FLOW_REGISTRY_URL: registry.url, PATH: PATH_WITHOUT_BACKENDS });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(sb.home, 'bin/hello-pkg'), 'utf8')).toContain('hello from a package');
    expect(toolEvents(sb.home, 'hello-pkg').map((e) => e.type)).toEqual(['INSTALL_REQUESTED', 'REGISTERED']);
  });

  it('refuses a registry binary without a published sha256 (fail closed) unless --allow-unverified', async () => {
    const env = { ...sb.env, FLOW_REGISTRY_URL: registry.url, PATH: PATH_WITHOUT_BACKENDS };
    const r = await f(['install', 'unsigned-pkg', '--backend', 'registry'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('publishes no sha256 for unsigned-pkg; refusing to install it unverified');
    expect(existsSync(join(sb.home, 'bin/unsigned-pkg'))).toBe(false);
    expect((await f(['install', 'unsigned-pkg', '--backend', 'registry', '--allow-unverified'], env)).code).toBe(0);
  });

  it('a backend whose program is missing says so and what to install', async () => {
    const env = { ...sb.env, PATH: PATH_WITHOUT_BACKENDS };
    const parm = await f(['install', 'owner/tool', '--backend', 'parm'], env);
    expect(parm.code).toBe(1);
    expect(parm.stderr).toContain('cannot install owner/tool with parm: the parm program is not on PATH');
    expect(parm.stderr).toContain('install.sh');
    const flox = await f(['install', 'ripgrep', '--backend', 'flox'], env);
    expect(flox.stderr).toContain('the flox program is not on PATH (install flox: https://flox.dev');
  });

  it('auto tries registry, parm and flox in that order and says why each one did not serve', async () => {
    const r = await f(['install', 'no-such-pkg'], { ...sb.env, FLOW_REGISTRY_URL: registry.url, PATH: PATH_WITHOUT_BACKENDS });
    expect(r.code).toBe(1);
    const lines = r.stderr.split('\n');
    const at = (b: string) => lines.findIndex((l) => l.trim().startsWith(`${b}:`));
    expect(at('registry')).toBeGreaterThan(0);
    expect(at('registry')).toBeLessThan(at('parm'));
    expect(at('parm')).toBeLessThan(at('flox'));
    expect(r.stderr).toContain('registry: no package "no-such-pkg"');
  });

  it('an unknown --backend is an error that lists the choices', async () => {
    const r = await f(['install', 'x', '--backend', 'brew'], sb.env);
    expect(r.stderr).toContain('unknown backend "brew" (choose auto, registry, parm, flox)');
  });
});
