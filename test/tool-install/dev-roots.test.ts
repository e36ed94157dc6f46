import { mkdirSync, writeFileSync, utimesSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFixture, ensureBuilt, f, json, sandbox, type Sandbox } from './helpers.js';

let sb: Sandbox;
let goRoot: string;
let rustRoot: string;

function env(): Record<string, string> {
  return { ...sb.env, FLOW_CLI_DEV_ROOTS: `${goRoot}/*:${rustRoot}/*`, BUILD_LOG: join(sb.dir, 'builds.log') };
}

beforeAll(() => {
  ensureBuilt();
  sb = sandbox();
  goRoot = join(sb.dir, 'code/lang/go/cli');
  rustRoot = join(sb.dir, 'code/lang/rust/cli');
  mkdirSync(goRoot, { recursive: true });
  mkdirSync(rustRoot, { recursive: true });
  copyFixture('echo-sh', goRoot);
  copyFixture('echo-py', rustRoot);
  copyFixture('build-counter', goRoot);
  // One malformed manifest beside the good ones: it must not break them.
  mkdirSync(join(goRoot, 'broken-tool'));
  writeFileSync(join(goRoot, 'broken-tool', 'flow-tool.toml'), 'version = 1\nid = "broken-tool"\nlanguage = "go"\n[exec]\nrun = []\n');
  mkdirSync(join(rustRoot, 'not-toml'));
  writeFileSync(join(rustRoot, 'not-toml', 'flow-tool.toml'), 'this is = = not toml');
}, 240_000);
afterAll(() => sb?.cleanup());

describe('dev roots: tools under ~/code/lang/{go,rust}/cli/* run without an install step', () => {
  it('f cli list shows the good tools and names each broken manifest with its error', async () => {
    const r = await f(['cli', 'list', '--json'], env());
    expect(r.code, r.stderr).toBe(0);
    const listing = json<{ tools: { id: string; kind: string }[]; broken: { path: string; error: string }[] }>(r.stdout);
    expect(listing.tools.map((t) => `${t.id}:${t.kind}`).sort()).toEqual(['build-counter:dev', 'echo-py:dev', 'echo-sh:dev']);
    expect(listing.broken.map((b) => b.path).sort()).toEqual([join(goRoot, 'broken-tool/flow-tool.toml'), join(rustRoot, 'not-toml/flow-tool.toml')]);
    const broken = listing.broken.find((b) => b.path.includes('broken-tool'))!;
    expect(broken.error).toMatch(/binary_name: .*it is missing/);
    expect(broken.error).toMatch(/exec\.run: expected at least one word/);
    expect(listing.broken.find((b) => b.path.includes('not-toml'))!.error).toContain('not valid TOML');

    const human = await f(['cli', 'list'], env());
    expect(human.stdout).toContain('Broken manifests');
    expect(human.stdout).toContain(join(goRoot, 'broken-tool/flow-tool.toml'));
  });

  it('f cli <good-id> still runs, with its arguments untouched', async () => {
    const r = await f(['cli', 'echo-sh', '--', '--help', '-x'], env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('[--help]\n[-x]\n');
    expect(json((await f(['cli', 'echo-py', '--', '--force'], env())).stdout)).toEqual({ tool: 'echo-py', args: ['--force'] });
  });

  it('f cli doctor on the broken one says what is wrong', async () => {
    const r = await f(['cli', 'doctor', 'broken-tool'], env());
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FIX .*binary_name/);
  });

  it('an installed link wins over a dev root with the same id, and the conflict is listed', async () => {
    const elsewhere = copyFixture('echo-sh', join(sb.dir));
    expect((await f(['install', elsewhere], env())).code).toBe(0);
    expect((await f(['cli', 'which', 'echo-sh'], env())).stdout.trim()).toBe(elsewhere);
    const listing = json<{ conflicts: { id: string; active: string; others: string[] }[] }>((await f(['cli', 'list', '--json'], env())).stdout);
    expect(listing.conflicts).toContainEqual({ id: 'echo-sh', active: `link ${elsewhere}`, others: [`dev ${join(goRoot, 'echo-sh')}`] });
    await f(['cli', 'uninstall', 'echo-sh'], env());
    expect((await f(['cli', 'which', 'echo-sh'], env())).stdout.trim()).toBe(join(goRoot, 'echo-sh'));
  });

  it('dev roots can come from $FLOW_HOME/cli/config.toml', async () => {
    mkdirSync(join(sb.home, 'cli'), { recursive: true });
    writeFileSync(join(sb.home, 'cli/config.toml'), `dev_roots = ["${rustRoot}/*"]\n`);
    const { FLOW_CLI_DEV_ROOTS: _drop, ...rest } = env();
    const listing = json<{ tools: { id: string }[] }>((await f(['cli', 'list', '--json'], { ...rest, FLOW_CLI_DEV_ROOTS: undefined as unknown as string })).stdout);
    expect(listing.tools.map((t) => t.id)).toEqual(['echo-py']);
  });
});

describe('[exec].build: built once per content of the sources, then run directly', () => {
  const builds = () => (existsSync(join(sb.dir, 'builds.log')) ? readFileSync(join(sb.dir, 'builds.log'), 'utf8').split('\n').filter(Boolean).length : 0);

  it('builds on first run, reuses the build while the sources are unchanged, rebuilds when they change', async () => {
    const first = await f(['cli', 'build-counter', '--', '--help'], env());
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe('hello v1 --help\n');
    expect(builds()).toBe(1);

    expect((await f(['cli', 'build-counter', '--', 'again'], env())).stdout).toBe('hello v1 again\n');
    expect(builds()).toBe(1);

    // Touching a file without changing it does not rebuild: the key is the content.
    const greeting = join(goRoot, 'build-counter/greeting.txt');
    utimesSync(greeting, new Date(), new Date(Date.now() + 5000));
    expect((await f(['cli', 'build-counter', '--', 'touched'], env())).stdout).toBe('hello v1 touched\n');
    expect(builds()).toBe(1);

    writeFileSync(greeting, 'hello v2\n');
    expect((await f(['cli', 'build-counter', '--', 'changed'], env())).stdout).toBe('hello v2 changed\n');
    expect(builds()).toBe(2);
  });

  it('a build that writes into the source tree (exec.output) is copied into the cache and not rebuilt for its own product', async () => {
    const dir = join(goRoot, 'in-tree');
    mkdirSync(dir);
    writeFileSync(join(dir, 'flow-tool.toml'), 'version = 1\nid = "in-tree"\nlanguage = "sh"\nbinary_name = "in-tree"\n[exec]\nrun = ["false"]\nbuild = ["sh", "build.sh"]\noutput = "out/in-tree"\n');
    writeFileSync(join(dir, 'build.sh'), 'echo built >> "$BUILD_LOG"; mkdir -p out; printf "#!/bin/sh\\necho in-tree \\$*\\n" > out/in-tree; chmod +x out/in-tree\n');
    const before = builds();
    expect((await f(['cli', 'in-tree', '--', '1'], env())).stdout).toBe('in-tree 1\n');
    expect((await f(['cli', 'in-tree', '--', '2'], env())).stdout).toBe('in-tree 2\n');
    expect(builds()).toBe(before + 1);
  });

  it('a failing build is reported as such, and nothing runs', async () => {
    writeFileSync(join(goRoot, 'build-counter/build.sh'), 'echo compile error >&2; exit 4\n');
    const r = await f(['cli', 'build-counter'], env());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('building build-counter failed: exit code 4');
  });
});
