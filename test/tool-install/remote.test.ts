import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawn } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { create, Header, list } from 'tar';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, f, F_MAIN, FIXTURES, json, sandbox, serveDir, toolEvents, tree, type Sandbox, type StaticServer } from './helpers.js';

let sb: Sandbox;
let catalog: string;
let server: StaticServer;
const published: Record<string, string> = {};

function env(extra: Record<string, string> = {}): Record<string, string> {
  return { ...sb.env, FLOW_CATALOG_URL: server.url, ...extra };
}

beforeAll(async () => {
  ensureBuilt();
  sb = sandbox();
  catalog = join(sb.dir, 'catalog');
  for (const tool of ['echo-args', 'echo-sh', 'echo-py']) {
    const r = await f(['catalog', 'publish', join(FIXTURES, tool), '--to', catalog, '--json'], sb.env);
    expect(r.code, r.stderr).toBe(0);
    published[tool] = json<{ install_id: string }>(r.stdout).install_id;
  }
  server = await serveDir(catalog);
}, 240_000);
afterAll(async () => {
  await server?.close();
  sb?.cleanup();
});

/** Everything a failed install must not have touched. */
function registrySnapshot(): Record<string, unknown> {
  const cli = join(sb.home, 'cli');
  return {
    installs: existsSync(join(cli, 'installs')) ? readdirSync(join(cli, 'installs')).sort() : [],
    index: existsSync(join(cli, 'index.json')) ? readFileSync(join(cli, 'index.json'), 'utf8') : null,
    links: tree(join(cli, 'links')),
    bin: tree(join(sb.home, 'bin')),
    tmp: tree(join(cli, 'tmp')),
  };
}

function newInstallId(): string {
  return `cli_${ulid().toLowerCase()}`;
}

/** Writes a catalog record for a bundle (by default with its true sha256). */
function addRecord(bundle: string, over: { id?: string; sha256?: string; manifest?: Record<string, unknown> } = {}): string {
  const installId = newInstallId();
  const name = `${installId}.tgz`;
  mkdirSync(join(catalog, 'bundles'), { recursive: true });
  cpSync(bundle, join(catalog, 'bundles', name));
  const id = over.id ?? 'hostile';
  const record = {
    install_id: installId,
    id,
    version: '6.6.6',
    published_at: '2026-04-02T12:00:00Z',
    source: { kind: 'tarball', url: `bundles/${name}`, sha256: over.sha256 ?? createHash('sha256').update(readFileSync(bundle)).digest('hex') },
    manifest: over.manifest ?? { version: 1, id, language: 'sh', binary_name: id, exec: { run: ['sh', 'main.sh'] } },
  };
  writeFileSync(join(catalog, `${installId}.json`), JSON.stringify(record));
  return installId;
}

function stage(name: string): string {
  const dir = join(sb.dir, 'craft', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'flow-tool.toml'), 'version = 1\nid = "hostile"\nlanguage = "sh"\nbinary_name = "hostile"\n[exec]\nrun = ["sh", "main.sh"]\n');
  writeFileSync(join(dir, 'main.sh'), 'echo hostile\n');
  return dir;
}

async function entriesOf(file: string): Promise<string[]> {
  const names: string[] = [];
  await list({ file, onReadEntry: (e) => names.push(e.path) });
  return names;
}

describe('f catalog publish writes a static catalog', () => {
  it('a bundle, <install_id>.json in the seed’s record format, and index.json listing every record', () => {
    const iid = published['echo-args']!;
    expect(iid).toMatch(/^cli_[0-9a-z]{26}$/);
    const record = json<Record<string, unknown>>(readFileSync(join(catalog, `${iid}.json`), 'utf8'));
    expect(record).toMatchObject({ install_id: iid, id: 'echo-args', version: '0.1.0', source: { kind: 'tarball' }, manifest: { version: 1, id: 'echo-args', exec: { run: ['node', 'main.mjs'] } } });
    const src = record.source as { url: string; sha256: string };
    expect(createHash('sha256').update(readFileSync(join(catalog, src.url))).digest('hex')).toBe(src.sha256);
    const index = json<{ records: { install_id: string }[] }>(readFileSync(join(catalog, 'index.json'), 'utf8'));
    expect(index.records.map((r) => r.install_id).sort()).toEqual(Object.values(published).sort());
  });
});

describe('f install cli_<ulid> installs from a remote catalog over HTTP', () => {
  it('downloads, verifies, unpacks into installs/<install_id>/ and registers the manifest id', async () => {
    const iid = published['echo-args']!;
    const r = await f(['install', iid], env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Installed echo-args (${iid}`);
    const dir = join(sb.home, 'cli/installs', iid);
    expect(readdirSync(dir).sort()).toEqual(['bundle', 'manifest.toml', 'record.json']);
    expect(readFileSync(join(dir, 'manifest.toml'), 'utf8')).toContain('id = "echo-args"');
    expect(json(readFileSync(join(dir, 'record.json'), 'utf8'))).toMatchObject({ install_id: iid, id: 'echo-args', version: '0.1.0', published_at: expect.any(String) });
    expect(json<{ installs: Record<string, unknown> }>(readFileSync(join(sb.home, 'cli/index.json'), 'utf8')).installs[iid]).toBeDefined();
    expect(toolEvents(sb.home, 'echo-args').map((e) => e.type)).toEqual(
      expect.arrayContaining(['INSTALL_REQUESTED', 'MANIFEST_VALIDATED', 'DOWNLOAD_STARTED', 'DOWNLOADED', 'CHECKSUM_VERIFIED', 'EXTRACTED', 'REGISTERED']),
    );
    expect(server.requests).toContain(`/${iid}.json`);
  });

  it('runs it with Flow-looking flags untouched, in the unpacked bundle', async () => {
    const r = await f(['cli', 'echo-args', '--', '--help', '--force', '-x'], env());
    const out = json<{ args: string[]; cwd: string }>(r.stdout);
    expect(out.args).toEqual(['--help', '--force', '-x']);
    expect(out.cwd).toBe(join(sb.home, 'cli/installs', published['echo-args']!, 'bundle'));
  });

  it('cli:<ULID> is the same install id; installing it again is "already installed"', async () => {
    const iid = published['echo-args']!;
    const r = await f(['install', `cli:${iid.slice(4).toUpperCase()}`], env());
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('is already installed');
  });

  it('a file:// catalog works the same way (Python CLI)', async () => {
    const r = await f(['install', published['echo-py']!], env({ FLOW_CATALOG_URL: pathToFileURL(catalog).href }));
    expect(r.code, r.stderr).toBe(0);
    expect(json((await f(['cli', 'echo-py', '--', '--help', '-x'], env())).stdout)).toEqual({ tool: 'echo-py', args: ['--help', '-x'] });
  });
});

describe('download progress', () => {
  it('shows a progress bar on a terminal (a real pty through script(1))', async () => {
    const iid = published['echo-py']!;
    const home = join(sb.dir, 'tty-home');
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(F_MAIN)} install ${iid}`;
    const out = await new Promise<string>((resolve) => {
      const p = spawn('script', ['-qec', cmd, '/dev/null'], { env: { ...process.env, ...env({ FLOW_HOME: home }) }, stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      p.stdout.on('data', (d: Buffer) => (text += d.toString()));
      p.on('close', () => resolve(text));
    });
    expect(out).toMatch(/echo-py 0\.1\.0 \[[^\]]*\] 100% \d+\/\d+ bytes/);
    expect(out).toContain('Installed echo-py');
  });

  it('records checkpoints in the log (each quarter of the size), not every chunk', async () => {
    const dir = stage('progress');
    writeFileSync(join(dir, 'noise.bin'), randomBytes(2 * 1024 * 1024));
    const file = join(sb.dir, 'progress.tgz');
    await create({ gzip: true, cwd: dir, file }, ['flow-tool.toml', 'main.sh', 'noise.bin']);
    const r = await f(['install', addRecord(file)], env());
    expect(r.code, r.stderr).toBe(0);
    const progress = toolEvents(sb.home, 'hostile').filter((e) => e.type === 'DOWNLOAD_PROGRESS').map((e) => e.data.receivedBytes as number);
    expect(progress.length).toBe(3);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
    expect(toolEvents(sb.home, 'hostile').at(-1)!.type).toBe('REGISTERED');
    expect((await f(['cli', 'uninstall', 'hostile'], env())).code).toBe(0);
  });
});

describe('a remote install never silently shadows a link', () => {
  it('installs beside the link, stays inactive, says so, and f cli list shows the conflict', async () => {
    expect((await f(['install', join(FIXTURES, 'echo-sh')], env())).code).toBe(0);
    const r = await f(['install', published['echo-sh']!], env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`echo-sh is already provided by link ${join(FIXTURES, 'echo-sh')}, which stays active`);
    expect(r.stdout).toContain('[inactive]');
    const listing = json<{ conflicts: { id: string; active: string; others: string[] }[] }>((await f(['cli', 'list', '--json'], env())).stdout);
    expect(listing.conflicts).toContainEqual({ id: 'echo-sh', active: `link ${join(FIXTURES, 'echo-sh')}`, others: [`remote ${published['echo-sh']}`] });
    const human = (await f(['cli', 'list'], env())).stdout;
    expect(human).toContain('Conflicts');
    expect((await f(['cli', 'which', 'echo-sh'], env())).stdout.trim()).toBe(join(FIXTURES, 'echo-sh'));
  });

  it('--force makes the remote install the active one, and the shim follows', async () => {
    const r = await f(['install', published['echo-sh']!, '--force'], env());
    expect(r.code, r.stderr).toBe(0);
    expect((await f(['cli', 'which', 'echo-sh'], env())).stdout.trim()).toBe(join(sb.home, 'cli/installs', published['echo-sh']!, 'bundle'));
    expect(readFileSync(join(sb.home, 'bin/echo-sh'), 'utf8')).toContain(published['echo-sh']!);
  });

  it('uninstalling just the remote install hands the id back to the link', async () => {
    const r = await f(['cli', 'uninstall', 'echo-sh', '--only', published['echo-sh']!], env());
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(sb.home, 'cli/installs', published['echo-sh']!))).toBe(false);
    expect((await f(['cli', 'which', 'echo-sh'], env())).stdout.trim()).toBe(join(FIXTURES, 'echo-sh'));
    expect(readFileSync(join(sb.home, 'bin/echo-sh'), 'utf8')).toContain(join(FIXTURES, 'echo-sh'));
  });
});

describe('f cli upgrade moves a remote install to the newest record of its id', () => {
  it('installs the new bundle, removes the old one, and keeps the shim true', async () => {
    const v2 = join(sb.dir, 'echo-args-v2');
    cpSync(join(FIXTURES, 'echo-args'), v2, { recursive: true });
    writeFileSync(join(v2, 'main.mjs'), "process.stdout.write(JSON.stringify({ tool: 'echo-args', v: 2, args: process.argv.slice(2) }) + '\\n');\n");
    const pub = await f(['catalog', 'publish', v2, '--to', catalog, '--version', '0.2.0', '--json'], sb.env);
    const newId = json<{ install_id: string }>(pub.stdout).install_id;
    const old = published['echo-args']!;
    const r = await f(['cli', 'upgrade', 'echo-args'], env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Upgraded echo-args to ${newId}`);
    expect(existsSync(join(sb.home, 'cli/installs', old))).toBe(false);
    expect(json<{ v: number }>((await f(['cli', 'echo-args', '--', 'x'], env())).stdout).v).toBe(2);
    expect(readFileSync(join(sb.home, 'bin/echo-args'), 'utf8')).toContain(newId);
    expect((await f(['cli', 'upgrade', 'echo-args'], env())).stderr).toContain('is the newest');
  });
});

describe('hostile or broken remote input: a clear error, and nothing registered or half-written', () => {
  async function refused(installId: string, pattern: RegExp, extra: Record<string, string> = {}): Promise<void> {
    const before = registrySnapshot();
    const r = await f(['install', installId], env(extra));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(pattern);
    expect(registrySnapshot()).toEqual(before);
  }

  it('a wrong sha256', async () => {
    const good = join(catalog, json<{ source: { url: string } }>(readFileSync(join(catalog, `${published['echo-sh']}.json`), 'utf8')).source.url);
    const iid = addRecord(good, { id: 'echo-sh', sha256: '0'.repeat(64), manifest: { version: 1, id: 'echo-sh', language: 'sh', binary_name: 'echo-sh', exec: { run: ['sh', 'main.sh'] } } });
    await refused(iid, /checksum mismatch .* the catalog says sha256 0{64}, but the \d+ bytes downloaded hash differently; nothing was installed/);
    expect(toolEvents(sb.home, 'echo-sh').at(-1)).toMatchObject({ type: 'INSTALL_FAILED', data: { step: 'checksum' } });
  });

  it('a tarball with ../ entries', async () => {
    const dir = stage('dotdot');
    mkdirSync(join(dir, 'inner'));
    cpSync(join(dir, 'flow-tool.toml'), join(dir, 'inner', 'flow-tool.toml'));
    const file = join(sb.dir, 'dotdot.tgz');
    await create({ gzip: true, cwd: join(dir, 'inner'), file, preservePaths: true }, ['flow-tool.toml', '../main.sh']);
    expect(await entriesOf(file)).toContain('../main.sh');
    await refused(addRecord(file), /entry "\.\.\/main\.sh" contains "\.\."/);
  });

  it('an absolute path', async () => {
    const dir = stage('absolute');
    const file = join(sb.dir, 'absolute.tgz');
    await create({ gzip: true, cwd: dir, file, preservePaths: true }, ['flow-tool.toml', join(dir, 'main.sh')]);
    expect(await entriesOf(file)).toContain(join(dir, 'main.sh'));
    await refused(addRecord(file), /has an absolute path/);
  });

  it('a symlink to /etc', async () => {
    const dir = stage('symlink');
    symlinkSync('/etc', join(dir, 'etc'));
    const file = join(sb.dir, 'symlink.tgz');
    await create({ gzip: true, cwd: dir, file }, ['flow-tool.toml', 'main.sh', 'etc']);
    await refused(addRecord(file), /entry "etc" is a symbolic link to "\/etc", outside the bundle/);
  });

  it('a device file', async () => {
    // No mknod needed: the entry is written as a raw tar header, as a hostile publisher would.
    const file = join(sb.dir, 'device.tgz');
    const ok = join(sb.dir, 'device-base.tar');
    await create({ cwd: stage('device'), file: ok }, ['flow-tool.toml']);
    const header = Buffer.alloc(512);
    new Header({ path: 'null-copy', type: 'CharacterDevice', mode: 0o644, size: 0, mtime: new Date(0), devmaj: 1, devmin: 3 }).encode(header, 0);
    const base = readFileSync(ok);
    writeFileSync(file, gzipSync(Buffer.concat([base.subarray(0, base.length - 1024), header, Buffer.alloc(1024)])));
    expect(await entriesOf(file)).toContain('null-copy');
    await refused(addRecord(file), /entry "null-copy" is a CharacterDevice/);
  });

  it('an archive over the size limit', async () => {
    const dir = stage('big');
    writeFileSync(join(dir, 'padding.bin'), Buffer.alloc(2 * 1024 * 1024));
    const file = join(sb.dir, 'big.tgz');
    await create({ gzip: true, cwd: dir, file }, ['flow-tool.toml', 'main.sh', 'padding.bin']);
    await refused(addRecord(file), /unpacks to more than 1048576 bytes \(the size limit/, { FLOW_CLI_MAX_UNPACKED_BYTES: String(1024 * 1024) });
    await refused(addRecord(file), /over the download limit of 1000\b/, { FLOW_CLI_MAX_DOWNLOAD_BYTES: '1000' });
  });

  it('a record whose manifest misses a field or has a wrong type', async () => {
    const file = join(sb.dir, 'ok.tgz');
    await create({ gzip: true, cwd: stage('ok'), file }, ['flow-tool.toml', 'main.sh']);
    await refused(addRecord(file, { manifest: { version: 1, id: 'hostile', language: 'sh', exec: { run: 'sh main.sh' } } }), /\(manifest\): binary_name: .*it is missing.*exec\.run: expected an array of strings/);
  });

  it('a record with an id holding "/" or ".."', async () => {
    const file = join(sb.dir, 'ok2.tgz');
    await create({ gzip: true, cwd: stage('ok2'), file }, ['flow-tool.toml', 'main.sh']);
    await refused(addRecord(file, { id: '../../x' }), /id: a tool id is 1-64 lower-case letters/);
    await refused(addRecord(file, { id: 'a/b' }), /id: a tool id is 1-64 lower-case letters/);
  });

  it('a catalog that is down', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    await refused(newInstallId(), /the catalog at http:\/\/127\.0\.0\.1:\d+ is not reachable \(ECONNREFUSED\)/, { FLOW_CATALOG_URL: `http://127.0.0.1:${port}/` });
  });

  it('a catalog that answers with HTML', async () => {
    server.mode = 'html';
    try {
      await refused(published['echo-py']!, /the catalog returned an HTML page .* not JSON/);
    } finally {
      server.mode = 'files';
    }
  });

  it('an unknown install id, and no catalog configured', async () => {
    await refused(newInstallId(), /is not in the catalog at/);
    await refused(newInstallId(), /no remote catalog configured: set FLOW_CATALOG_URL/, { FLOW_CATALOG_URL: '' });
  });
});
