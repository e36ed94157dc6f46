import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFixture, ensureBuilt, f, FIXTURES, json, sandbox, startF, toolEvents, toolStatus, tree, type Sandbox } from './helpers.js';

let sb: Sandbox;

beforeAll(async () => {
  ensureBuilt();
  sb = sandbox();
  for (const tool of ['echo-args', 'echo-sh', 'echo-py', 'exit-probe']) {
    const r = await f(['install', join(FIXTURES, tool)], sb.env);
    expect(r.code, r.stderr).toBe(0);
  }
}, 240_000);
afterAll(() => sb?.cleanup());

const FLAGS_THAT_LOOK_LIKE_FLOWS = ['--help', '--force', '-x', '--json', '--version', '-V', '--', 'two words', ''];

describe('f install <path> links a tool: it validates the manifest and records where the source is', () => {
  it('writes links/<id>.toml pointing at the source, copies nothing, and keeps index.json', () => {
    const record = readFileSync(join(sb.home, 'cli/links/echo-args.toml'), 'utf8');
    expect(record).toContain(`source_root = "${join(FIXTURES, 'echo-args')}"`);
    expect(record).toContain(`manifest_path = "${join(FIXTURES, 'echo-args', 'flow-tool.toml')}"`);
    expect(record).toMatch(/installed_at = "\d{4}-/);
    expect(record).toContain('description = "Prints its arguments');
    expect(existsSync(join(sb.home, 'cli/index.json'))).toBe(true);
    expect(tree(join(sb.home, 'cli')).filter((p) => p.endsWith('main.mjs'))).toEqual([]);
  });

  it('records every step as an event in tool-install:<id>, without f up running', () => {
    // REGISTER_REQUESTED: the machine decides the registration; REGISTERED: the files it asked for are written.
    expect(toolEvents(sb.home, 'echo-args').map((e) => e.type)).toEqual(['INSTALL_REQUESTED', 'MANIFEST_VALIDATED', 'REGISTER_REQUESTED', 'REGISTERED']);
    expect(toolStatus(sb.home, 'echo-args')).toBe('installed');
  });

  it('says "already installed" for the same id and source, and refuses another source without --force', async () => {
    const again = await f(['install', join(FIXTURES, 'echo-args')], sb.env);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('echo-args is already installed');

    const elsewhere = copyFixture('echo-args', sb.dir);
    const refused = await f(['install', elsewhere], sb.env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`echo-args is already linked to ${join(FIXTURES, 'echo-args')}; use --force`);
    expect(readFileSync(join(sb.home, 'cli/links/echo-args.toml'), 'utf8')).toContain(join(FIXTURES, 'echo-args'));

    const forced = await f(['install', elsewhere, '--force'], sb.env);
    expect(forced.code, forced.stderr).toBe(0);
    expect((await f(['cli', 'which', 'echo-args'], sb.env)).stdout.trim()).toBe(elsewhere);
    await f(['install', join(FIXTURES, 'echo-args'), '--force'], sb.env);
  });
});

describe('f cli <id> -- args: everything after -- reaches the tool untouched', () => {
  it('a Node CLI gets flags that look like Flow’s own, in order, in its own root, with its env', async () => {
    const r = await f(['cli', 'echo-args', '--', ...FLAGS_THAT_LOOK_LIKE_FLOWS], sb.env);
    expect(r.code, r.stderr).toBe(0);
    const out = json<{ args: string[]; cwd: string; callerCwd: string; greeting: string }>(r.stdout);
    expect(out.args).toEqual(FLAGS_THAT_LOOK_LIKE_FLOWS);
    expect(out.cwd).toBe(join(FIXTURES, 'echo-args'));
    expect(out.callerCwd).toBe(process.cwd());
    expect(out.greeting).toBe('hello from the manifest');
  });

  it('a shell CLI and a Python CLI get the same arguments', async () => {
    const sh = await f(['cli', 'echo-sh', '--', '--help', '--force', '-x', 'a b', ''], sb.env);
    expect(sh.stdout).toBe('[--help]\n[--force]\n[-x]\n[a b]\n[]\n');
    const py = await f(['cli', 'echo-py', '--', '--help', '--force', '-x'], sb.env);
    expect(json(py.stdout)).toEqual({ tool: 'echo-py', args: ['--help', '--force', '-x'] });
  });

  it('runs the same from the run cache as from a full resolution', async () => {
    const first = await f(['cli', 'echo-sh', '--', 'cached?'], sb.env);
    expect(existsSync(join(sb.home, 'cli/cache/run.json'))).toBe(true);
    const second = await f(['cli', 'echo-sh', '--', 'cached?'], sb.env);
    expect(second.stdout).toBe(first.stdout);
  });

  it('resolves an alias from the manifest, and f cli run <id> is the explicit form', async () => {
    expect(json<{ args: string[] }>((await f(['cli', 'ea', '--', '-x'], sb.env)).stdout).args).toEqual(['-x']);
    expect(json<{ args: string[] }>((await f(['cli', 'run', 'echo-args', '--', '--help'], sb.env)).stdout).args).toEqual(['--help']);
  });

  it('f ai codex browse goes through the same resolver', async () => {
    const r = await f(['ai', 'codex', 'browse', '--repo', '/x'], sb.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no tool "codex-session-browser"');
  });

  it('inherits stdin and stdout', async () => {
    const r = await f(['cli', 'exit-probe', '--', 'upper'], sb.env, { input: 'quiet please\n' });
    expect(r.stdout).toBe('QUIET PLEASE\n');
  });
});

describe('f cli passes the tool’s exit code and signals through', () => {
  it('a tool exiting 3 makes f exit 3 (and 0 stays 0)', async () => {
    expect((await f(['cli', 'exit-probe', '--', 'exit', '3'], sb.env)).code).toBe(3);
    expect((await f(['cli', 'exit-probe', '--', 'exit', '0'], sb.env)).code).toBe(0);
    expect((await f(['cli', 'exit-probe', '--', 'exit', '255'], sb.env)).code).toBe(255);
  });

  it('SIGINT sent to f reaches the tool, whose exit code becomes f’s', async () => {
    const run = startF(['cli', 'exit-probe', '--', 'wait-signal'], sb.env);
    await new Promise<void>((resolve) => run.proc.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
    run.proc.kill('SIGINT');
    const r = await run.done;
    expect(r.stdout).toContain('got SIGINT');
    expect(r.code).toBe(42);
  });

  it('SIGTERM is forwarded the same way', async () => {
    const run = startF(['cli', 'exit-probe', '--', 'wait-signal'], sb.env);
    await new Promise<void>((resolve) => run.proc.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
    run.proc.kill('SIGTERM');
    const r = await run.done;
    expect(r.stdout).toContain('got SIGTERM');
    expect(r.code).toBe(42);
  });

  it('a tool killed by a signal makes f die of the same signal', async () => {
    const r = await f(['cli', 'exit-probe', '--', 'die', 'SIGTERM'], sb.env);
    expect(r.signal).toBe('SIGTERM');
  });

  it('a runtime that is not on PATH is a clear error with exit 127', async () => {
    const r = await f(['cli', 'echo-py', '--', 'x'], { ...sb.env, PATH: '/nonexistent' });
    expect(r.code).toBe(127);
    expect(r.stderr).toContain('cannot run "python3": not found on PATH');
  });
});

describe('shims in $FLOW_HOME/bin run the tool with no Node in between', () => {
  it('a shim per id and alias: a sh script that execs the tool with "$@" untouched', () => {
    const shim = readFileSync(join(sb.home, 'bin/echo-args'), 'utf8');
    expect(shim.startsWith('#!/bin/sh\n')).toBe(true);
    const commands = shim.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(commands.join('\n')).not.toMatch(/\bnode\b.*dist\/cli|\bf cli\b/);
    expect(commands.at(-1)).toBe(`exec 'node' 'main.mjs' "$@"`);
    const r = spawnSync(join(sb.home, 'bin/ea'), ['--help', 'a b'], { encoding: 'utf8', env: { ...process.env, FLOW_HOME: sb.home } });
    expect(json<{ args: string[] }>(r.stdout).args).toEqual(['--help', 'a b']);
  });

  it('the shim keeps the tool’s exit code', () => {
    expect(spawnSync(join(sb.home, 'bin/exit-probe'), ['exit', '7']).status).toBe(7);
  });
});

describe('a linked tool follows its source', () => {
  it('an edited manifest takes effect on the next f cli run (the run cache notices), and the shim follows', async () => {
    const dir = join(sb.dir, 'follow');
    spawnSync('cp', ['-r', join(FIXTURES, 'echo-sh'), dir]);
    writeFileSync(join(dir, 'flow-tool.toml'), readFileSync(join(dir, 'flow-tool.toml'), 'utf8').replace('id = "echo-sh"', 'id = "follow-me"'));
    expect((await f(['install', dir], sb.env)).code).toBe(0);
    expect((await f(['cli', 'follow-me', '--', 'a'], sb.env)).stdout).toBe('[a]\n');
    expect((await f(['cli', 'follow-me', '--', 'a'], sb.env)).stdout).toBe('[a]\n');
    writeFileSync(join(dir, 'flow-tool.toml'), readFileSync(join(dir, 'flow-tool.toml'), 'utf8').replace('run = ["sh", "main.sh"]', 'run = ["sh", "main.sh", "--from-manifest"]'));
    expect((await f(['cli', 'follow-me', '--', 'a'], sb.env)).stdout).toBe('[--from-manifest]\n[a]\n');
    expect(readFileSync(join(sb.home, 'bin/follow-me'), 'utf8')).toContain(`exec 'sh' 'main.sh' '--from-manifest' "$@"`);
    const up = await f(['cli', 'upgrade', 'follow-me'], sb.env);
    expect(up.code, up.stderr).toBe(0);
    expect(readFileSync(join(sb.home, 'cli/links/follow-me.toml'), 'utf8')).toContain('manifest_sha256');
  });
});

describe('f cli list, which, doctor', () => {
  it('list --json shows every installed tool with its source', async () => {
    const r = await f(['cli', 'list', '--json'], sb.env);
    const listing = json<{ tools: { id: string; kind: string; active: boolean }[] }>(r.stdout);
    expect(listing.tools.map((t) => `${t.id}:${t.kind}:${t.active}`).filter((t) => !t.startsWith('follow-me')).sort()).toEqual(['echo-args:link:true', 'echo-py:link:true', 'echo-sh:link:true', 'exit-probe:link:true']);
  });

  it('which prints the root; doctor checks the manifest, the runtime, the shim, and shows env keys only', async () => {
    expect((await f(['cli', 'which', 'echo-sh'], sb.env)).stdout.trim()).toBe(join(FIXTURES, 'echo-sh'));
    const d = await f(['cli', 'doctor', 'echo-args', '--json'], sb.env);
    const report = json<{ ok: boolean; envKeys: string[]; checks: { name: string; ok: boolean }[] }>(d.stdout);
    expect(report.ok).toBe(true);
    expect(report.envKeys).toEqual(['ECHO_ARGS_GREETING']);
    expect(d.stdout).not.toContain('hello from the manifest');
    expect(report.checks.map((c) => c.name)).toEqual(expect.arrayContaining(['manifest', 'runtime', 'shim', 'PATH']));
    const human = await f(['cli', 'doctor', 'echo-args'], sb.env);
    expect(human.stdout).toContain(`export PATH="${join(sb.home, 'bin')}:$PATH"`);
  });
});

describe('bad input is refused with a clear error and nothing registered', () => {
  it('a manifest with a missing field or a wrong type names the file, the field and what was expected', async () => {
    const dir = join(sb.dir, 'bad-manifest');
    copyFixture('echo-sh', sb.dir);
    spawnSync('mv', [join(sb.dir, 'echo-sh'), dir]);
    writeFileSync(join(dir, 'flow-tool.toml'), 'version = 1\nid = "bad-one"\nlanguage = 7\n[exec]\nrun = "sh main.sh"\n');
    const r = await f(['install', dir], sb.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(join(dir, 'flow-tool.toml'));
    expect(r.stderr).toMatch(/language: .*string.*got number 7/);
    expect(r.stderr).toMatch(/binary_name: .*it is missing/);
    expect(r.stderr).toMatch(/exec\.run: expected an array of strings.*got string/);
    expect(existsSync(join(sb.home, 'cli/links/bad-one.toml'))).toBe(false);
    expect(existsSync(join(sb.home, 'bin/bad-one'))).toBe(false);
    expect(toolEvents(sb.home, 'bad-one').map((e) => e.type)).toEqual(['INSTALL_REQUESTED', 'INSTALL_FAILED']);
    expect(toolStatus(sb.home, 'bad-one')).toBe('failed');
  });

  it.each([['../../escape'], ['a/b'], ['..'], ['Upper']])('a manifest id %j is refused before it can become a file name', async (id) => {
    const dir = join(sb.dir, `evil-${Buffer.from(id).toString('hex')}`);
    spawnSync('cp', ['-r', join(FIXTURES, 'echo-sh'), dir]);
    writeFileSync(join(dir, 'flow-tool.toml'), `version = 1\nid = ${JSON.stringify(id)}\nlanguage = "sh"\nbinary_name = "x"\n[exec]\nrun = ["sh", "main.sh"]\n`);
    const before = tree(sb.home).filter((p) => !p.startsWith('flow.db'));
    const r = await f(['install', dir], sb.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/id: a tool id is 1-64 lower-case letters/);
    expect(tree(sb.home).filter((p) => !p.startsWith('flow.db'))).toEqual(before);
    expect(existsSync(join(sb.dir, 'escape.toml'))).toBe(false);
  });

  it('f cli with an id holding "/" or ".." is refused, not turned into a path', async () => {
    for (const id of ['../links/echo-args', 'a/b', '..']) {
      const r = await f(['cli', id], sb.env);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('is not a tool id');
    }
  });

  it('a bare word names a package unless a folder of that name is here (seed 001: an existing directory links); with --backend it is a package', async () => {
    copyFixture('echo-sh', sb.dir);
    const bare = await f(['install', 'echo-sh', '--force'], sb.env, { cwd: sb.dir });
    expect(bare.code, bare.stderr).toBe(0);
    expect(bare.stderr).toContain('so it was linked as a tool; to install the package "echo-sh" instead, pass --backend');
    const pkg = await f(['install', 'echo-sh', '--backend', 'auto'], sb.env, { cwd: sb.dir });
    expect(pkg.code).toBe(1);
    expect(pkg.stderr).toContain('could not install "echo-sh" with any package backend');
    expect(pkg.stderr).toContain(`to link it as a tool, run f install ./echo-sh`);
    await f(['install', join(FIXTURES, 'echo-sh'), '--force'], sb.env);
  });
});

describe('f cli uninstall', () => {
  it('removes the link record and the shims, keeps the source, and records it', async () => {
    const dir = copyFixture('echo-py', join(sb.dir));
    await f(['install', dir, '--force'], sb.env);
    const r = await f(['cli', 'uninstall', 'echo-py'], sb.env);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(sb.home, 'cli/links/echo-py.toml'))).toBe(false);
    expect(existsSync(join(sb.home, 'bin/echo-py'))).toBe(false);
    expect(existsSync(join(dir, 'main.py'))).toBe(true);
    expect((await f(['cli', 'echo-py'], sb.env)).stderr).toContain('no tool "echo-py"');
    expect(toolEvents(sb.home, 'echo-py').map((e) => e.type).slice(-2)).toEqual(['UNINSTALL_REQUESTED', 'UNINSTALLED']);
    expect(toolStatus(sb.home, 'echo-py')).toBe('uninstalled');
  });
});
