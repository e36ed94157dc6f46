import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, realpathSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { Header, Pax } from 'tar';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, f, json, sandbox, serveDir, toolEvents, tree, type FRun, type Sandbox, type StaticServer } from '../tool-install/helpers.js';

/**
 * Hostile archives and catalogs (issue 11, item 7). Every archive here is built by the test
 * (tar headers written with node-tar's Header/Pax, compressed with node:zlib), served by a real
 * catalog on 127.0.0.1, and installed by the real `f install`.
 */

let sb: Sandbox;
let catalog: string;
let server: StaticServer;
/** A file outside every catalog: what a hostile record would like Flow to read or link to. */
let secret: string;
let secretSha: string;

function env(extra: Record<string, string> = {}): Record<string, string> {
  return { ...sb.env, FLOW_CATALOG_URL: server.url, ...extra };
}

beforeAll(() => {
  ensureBuilt();
  sb = sandbox();
  catalog = join(sb.dir, 'catalog');
  mkdirSync(join(catalog, 'bundles'), { recursive: true });
  secret = join(sb.dir, 'secret.txt');
  writeFileSync(secret, 'the user’s private key\n');
  secretSha = createHash('sha256').update(readFileSync(secret)).digest('hex');
  return serveDir(catalog).then((s) => {
    server = s;
  });
}, 240_000);
afterAll(async () => {
  await server?.close();
  sb?.cleanup();
});

// ---------------------------------------------------------------------------------------------
// Building archives by hand, as a hostile publisher would.

type EntryType = 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice';
interface Entry {
  path: string;
  type?: EntryType;
  mode?: number;
  body?: string | Buffer;
  linkpath?: string;
  /** The size the header claims (default: the body's). */
  size?: number;
}

function manifest(id = 'hostile', exec = 'run = ["sh", "main.sh"]'): string {
  return `version = 1\nid = "${id}"\nlanguage = "sh"\nbinary_name = "${id}"\n[exec]\n${exec}\n`;
}

/** flow-tool.toml and main.sh: what every bundle here has besides its hostile part. */
function toolEntries(id = 'hostile'): Entry[] {
  return [
    { path: 'flow-tool.toml', body: manifest(id) },
    { path: 'main.sh', body: 'echo hostile "$@"\n', mode: 0o755 },
  ];
}

function entryBytes(e: Entry): Buffer {
  const body = typeof e.body === 'string' ? Buffer.from(e.body) : (e.body ?? Buffer.alloc(0));
  const type = e.type ?? 'File';
  const parts: Buffer[] = [];
  const long = Buffer.byteLength(e.path) > 99 || Buffer.byteLength(e.linkpath ?? '') > 99;
  if (long) parts.push(new Pax({ path: e.path, ...(e.linkpath ? { linkpath: e.linkpath } : {}), mtime: new Date(0) }).encode());
  const header = Buffer.alloc(512);
  new Header({
    path: long ? 'long-name' : e.path,
    type,
    mode: e.mode ?? (type === 'Directory' ? 0o755 : 0o644),
    size: e.size ?? (type === 'File' ? body.length : 0),
    mtime: new Date(0),
    uid: 0,
    gid: 0,
    ...(e.linkpath ? { linkpath: long ? 'long-link' : e.linkpath } : {}),
  }).encode(header, 0);
  parts.push(header);
  if (body.length > 0) parts.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  return Buffer.concat(parts);
}

/** Rewrites the checksum of the header at `off` after its bytes were changed by hand. */
function fixChecksum(buf: Buffer, off: number): void {
  buf.fill(0x20, off + 148, off + 156);
  let sum = 0;
  for (let i = off; i < off + 512; i++) sum += buf[i]!;
  buf.write(sum.toString(8).padStart(6, '0') + '\0 ', off + 148, 8, 'latin1');
}

/** A tar archive (with its two zero blocks at the end). */
function tarOf(entries: Entry[]): Buffer {
  return Buffer.concat([...entries.map(entryBytes), Buffer.alloc(1024)]);
}

function tgz(entries: Entry[]): Buffer {
  return gzipSync(tarOf(entries));
}

/** A real zstd frame made of raw blocks (RFC 8878 §3.1.1): valid zstd, no library needed. */
function zstdFrame(data: Buffer): Buffer {
  const MAX = 128 * 1024;
  // Frame header descriptor 0 (no checksum, no dictionary, no content size); window 2^24.
  const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x70])];
  for (let off = 0; off < data.length; off += MAX) {
    const block = data.subarray(off, off + MAX);
    const last = off + MAX >= data.length ? 1 : 0;
    const h = (block.length << 3) | last; // block type 0: raw
    parts.push(Buffer.from([h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff]), block);
  }
  return Buffer.concat(parts);
}

/**
 * A gzip bomb streamed to disk: `head` (tar bytes) then `zeros` bytes of zeros, as concatenated
 * gzip members of 8 MiB each (gzip allows members back to back), so the test never holds it.
 */
async function writeBomb(file: string, head: Buffer, zeros: number): Promise<void> {
  const out = createWriteStream(file);
  const write = (b: Buffer) => new Promise<void>((res, rej) => out.write(b, (e) => (e ? rej(e) : res())));
  await write(gzipSync(head));
  const chunk = 8 * 1024 * 1024;
  const member = gzipSync(Buffer.alloc(chunk), { level: 9 });
  for (let n = 0; n < zeros; n += chunk) await write(member);
  await new Promise<void>((res) => out.end(res));
}

async function sha256Of(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c as Buffer);
  return h.digest('hex');
}

function newInstallId(): string {
  return `cli_${ulid().toLowerCase()}`;
}

interface RecordOptions {
  id?: string;
  /** The record's source url (default: the bundle, relative to the catalog). */
  url?: string;
  sha256?: string;
  manifest?: Record<string, unknown>;
  /** Where the catalog lives (default: the HTTP one). */
  dir?: string;
}

/** Puts `bundle` (bytes, or a file already in the catalog) and its record into the catalog. */
async function publish(bundle: Buffer | string | null, o: RecordOptions = {}): Promise<string> {
  const installId = newInstallId();
  const dir = o.dir ?? catalog;
  let url = o.url;
  let sha = o.sha256;
  if (bundle !== null) {
    const file = typeof bundle === 'string' ? bundle : join(dir, 'bundles', `${installId}.tgz`);
    if (typeof bundle !== 'string') {
      mkdirSync(join(dir, 'bundles'), { recursive: true });
      writeFileSync(file, bundle);
    }
    url ??= file.slice(dir.length + 1);
    sha ??= await sha256Of(file);
  }
  const id = o.id ?? 'hostile';
  const record = {
    install_id: installId,
    id,
    version: '6.6.6',
    published_at: '2026-04-02T12:00:00Z',
    source: { kind: 'tarball', url: url ?? 'bundles/none.tgz', sha256: sha ?? '0'.repeat(64) },
    manifest: o.manifest ?? { version: 1, id, language: 'sh', binary_name: id, exec: { run: ['sh', 'main.sh'] } },
  };
  writeFileSync(join(dir, `${installId}.json`), JSON.stringify(record));
  return installId;
}

// ---------------------------------------------------------------------------------------------
// What a refusal must leave: nothing registered, nothing half-written, no temp dir, one event.

function registrySnapshot(): Record<string, unknown> {
  const cli = join(sb.home, 'cli');
  return {
    installs: existsSync(join(cli, 'installs')) ? readdirSync(join(cli, 'installs')).sort() : [],
    index: existsSync(join(cli, 'index.json')) ? readFileSync(join(cli, 'index.json'), 'utf8') : null,
    links: tree(join(cli, 'links')),
    bin: tree(join(sb.home, 'bin')),
  };
}

function tmpLeft(): string[] {
  return tree(join(sb.home, 'cli/tmp'));
}

async function refused(installId: string, pattern: RegExp, extra: Record<string, string> = {}, args: string[] = []): Promise<FRun> {
  const before = registrySnapshot();
  const r = await f(['install', installId, ...args], env(extra));
  expect(r.stderr).toMatch(pattern);
  expect(r.code).toBe(1);
  // A sentence the user can act on: never a stack trace or a page of minified library source.
  expect(r.stderr.length).toBeLessThan(1500);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(registrySnapshot()).toEqual(before);
  expect(tmpLeft()).toEqual([]);
  return r;
}

function lastEvent(id = 'hostile'): { type: string; data: Record<string, unknown> } | undefined {
  return toolEvents(sb.home, id).at(-1);
}

async function uninstall(id = 'hostile'): Promise<void> {
  const r = await f(['cli', 'uninstall', id], env());
  expect(r.code, r.stderr).toBe(0);
}

// ---------------------------------------------------------------------------------------------

describe('links in a bundle are resolved for real (through the links before them), never lexically', () => {
  const chain12: Entry[] = [{ path: 'l1', type: 'SymbolicLink', linkpath: '.' }];
  for (let i = 2; i <= 12; i++) chain12.push({ path: `l${i}`, type: 'SymbolicLink', linkpath: `l${i - 1}` });
  chain12.push({ path: 'out', type: 'SymbolicLink', linkpath: 'l12/..' });
  const deep = Array.from({ length: 12 }, (_, i) => `d${i + 1}`).join('/');

  const cases: [string, Entry[], RegExp][] = [
    [
      'a -> . then b -> a/.. (b is the parent of the bundle)',
      [
        { path: 'a', type: 'SymbolicLink', linkpath: '.' },
        { path: 'b', type: 'SymbolicLink', linkpath: 'a/..' },
      ],
      /entry "b" is a symbolic link to "a\/\.\.", which resolves outside the bundle/,
    ],
    [
      'the same two links in the other order (a later link changes what an earlier one means)',
      [
        { path: 'b', type: 'SymbolicLink', linkpath: 'a/..' },
        { path: 'a', type: 'SymbolicLink', linkpath: '.' },
      ],
      /entry "b" is a symbolic link to "a\/\.\.", which resolves outside the bundle/,
    ],
    ['a chain 12 links deep, then one step up', chain12, /entry "out" is a symbolic link to "l12\/\.\.", which resolves outside the bundle/],
    [
      'a link 12 directories down that climbs back to the root, then one more step up through it',
      [
        { path: `${deep}/up`, type: 'SymbolicLink', linkpath: Array(12).fill('..').join('/') },
        { path: 'r', type: 'SymbolicLink', linkpath: `${deep}/up/..` },
      ],
      /entry "r" is a symbolic link to "d1\/.*\/up\/\.\.", which resolves outside the bundle/,
    ],
    [
      'a -> sub, then an entry a/x written through the link',
      [
        { path: 'sub', type: 'Directory' },
        { path: 'a', type: 'SymbolicLink', linkpath: 'sub' },
        { path: 'a/x', body: 'through the link\n' },
      ],
      /entry "a\/x" is written through the symbolic link "a"/,
    ],
    [
      'a -> /tmp, then a/x',
      [
        { path: 'a', type: 'SymbolicLink', linkpath: '/tmp' },
        { path: 'a/x', body: 'into /tmp\n' },
      ],
      /entry "a" is a symbolic link to "\/tmp", outside the bundle/,
    ],
    [
      'a/x first, then a -> sub (the link would replace a directory already written)',
      [
        { path: 'sub', type: 'Directory' },
        { path: 'a/x', body: 'x\n' },
        { path: 'a', type: 'SymbolicLink', linkpath: 'sub' },
      ],
      /entry "a" is a symbolic link where the archive already put a directory/,
    ],
  ];

  it.each(cases)('%s: refused, nothing installed', async (_name, hostile, pattern) => {
    const iid = await publish(tgz([...toolEntries(), ...hostile]));
    await refused(iid, pattern);
    expect(lastEvent()).toMatchObject({ type: 'INSTALL_FAILED', data: { step: 'extract' } });
  });

  it('a hard link through a link chain to a file outside the bundle: refused, and the file gets no second name', async () => {
    // bundle = $FLOW_HOME/cli/tmp/<work>/install/bundle: six levels under the sandbox holding the secret.
    const up6 = `${Array(6).fill('a').join('/')}/${Array(6).fill('..').join('/')}`;
    const iid = await publish(
      tgz([
        ...toolEntries(),
        { path: 'a', type: 'SymbolicLink', linkpath: '.' },
        { path: 'b', type: 'SymbolicLink', linkpath: up6 },
        { path: 'h', type: 'Link', linkpath: 'b/secret.txt' },
      ]),
    );
    await refused(iid, /entry "(b|h)" .*(outside the bundle|which is not a file earlier in the archive)/);
    expect(statSync(secret).nlink).toBe(1);
  });

  it.each([
    ['a hard link through a symbolic link', [{ path: 'sub/f', body: 'f\n' }, { path: 's', type: 'SymbolicLink', linkpath: 'sub' }, { path: 'h', type: 'Link', linkpath: 's/f' }], /entry "h" is a hard link to "s\/f", which is not a file earlier in the archive/],
    ['a hard link to a later entry', [{ path: 'h', type: 'Link', linkpath: 'later' }, { path: 'later', body: 'l\n' }], /entry "h" is a hard link to "later", which is not a file earlier in the archive/],
    ['a hard link to a directory', [{ path: 'sub', type: 'Directory' }, { path: 'h', type: 'Link', linkpath: 'sub' }], /entry "h" is a hard link to "sub", which is not a file earlier in the archive/],
  ] as [string, Entry[], RegExp][])('%s: refused', async (_name, hostile, pattern) => {
    await refused(await publish(tgz([...toolEntries(), ...hostile])), pattern);
  });

  it('links that stay inside still work, in any order (a link may come before its target)', async () => {
    const iid = await publish(
      tgz([
        { path: 'bin/hostile', type: 'SymbolicLink', linkpath: '../main.sh' },
        { path: 'lib', type: 'SymbolicLink', linkpath: 'src/lib' },
        ...toolEntries(),
        { path: 'src/lib/util.sh', body: 'echo util\n' },
        { path: 'copy.sh', type: 'Link', linkpath: 'main.sh' },
        { path: 'self', type: 'SymbolicLink', linkpath: '.' },
      ]),
    );
    const r = await f(['install', iid], env());
    expect(r.code, r.stderr).toBe(0);
    const root = join(sb.home, 'cli/installs', iid, 'bundle');
    expect(readlinkSync(join(root, 'bin/hostile'))).toBe('../main.sh');
    expect(readFileSync(join(root, 'lib/util.sh'), 'utf8')).toBe('echo util\n');
    expect(statSync(join(root, 'copy.sh')).ino).toBe(statSync(join(root, 'main.sh')).ino);
    expect(realpathSync(join(root, 'self'))).toBe(realpathSync(root));
    expect((await f(['cli', 'hostile', '--', 'ok'], env())).stdout).toBe('hostile ok\n');
    await uninstall();
  });
});

describe('file modes: only the owner/group/other rwx bits survive, never setuid, setgid, sticky or group/world write', () => {
  it('mode 6755 is installed as 755, a 1777 directory as 755, a 666 file as 644', async () => {
    const iid = await publish(
      tgz([
        { path: 'flow-tool.toml', body: manifest() },
        { path: 'main.sh', body: 'echo hostile\n', mode: 0o6755 },
        { path: 'shared', type: 'Directory', mode: 0o1777 },
        { path: 'shared/open.txt', body: 'anyone may write me\n', mode: 0o666 },
        { path: 'suid-only', body: '#!/bin/sh\n', mode: 0o4777 },
      ]),
    );
    const r = await f(['install', iid], env());
    expect(r.code, r.stderr).toBe(0);
    const root = join(sb.home, 'cli/installs', iid, 'bundle');
    const mode = (p: string) => lstatSync(join(root, p)).mode & 0o7777;
    expect(mode('main.sh').toString(8)).toBe('755');
    expect(mode('shared').toString(8)).toBe('755');
    expect(mode('shared/open.txt').toString(8)).toBe('644');
    expect(mode('suid-only').toString(8)).toBe('755');
    await uninstall();
  });
});

describe('decompression bombs and size limits: bytes are counted as they stream, and the first violation stops the install', () => {
  /** Runs `f install` with a preload that writes the process's peak RSS (VmHWM, kB) at exit. */
  async function installMeasured(iid: string, extra: Record<string, string> = {}): Promise<{ run: FRun; peakMb: number }> {
    const probe = join(sb.dir, 'hwm.cjs');
    const out = join(sb.dir, `hwm-${iid}.txt`);
    writeFileSync(probe, "process.on('exit', () => { const fs = require('fs'); const m = /VmHWM:\\s+(\\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8')); fs.writeFileSync(process.env.HWM_OUT, m ? m[1] : '0'); });\n");
    const run = await f(['install', iid], env({ NODE_OPTIONS: `--require ${probe}`, HWM_OUT: out, ...extra }));
    const kb = existsSync(out) ? Number(readFileSync(out, 'utf8')) : Number.NaN;
    return { run, peakMb: kb / 1024 };
  }

  it('a tool followed by 512 MiB of zeros (0.5 MB gzipped): refused at the end of the tar, with memory bounded', async () => {
    const file = join(catalog, 'bundles', 'bomb-tail.tgz');
    await writeBomb(file, tarOf(toolEntries()), 512 * 1024 * 1024);
    expect(statSync(file).size).toBeLessThan(2 * 1024 * 1024);
    const iid = await publish(file);
    const before = registrySnapshot();
    const { run, peakMb } = await installMeasured(iid);
    expect(run.stderr).toMatch(/has more than \d+ bytes after the end of the tar archive \(a decompression bomb\?\); nothing was installed/);
    expect(run.code).toBe(1);
    expect(peakMb).toBeLessThan(150);
    expect(registrySnapshot()).toEqual(before);
    expect(tmpLeft()).toEqual([]);
    expect(lastEvent()).toMatchObject({ type: 'INSTALL_FAILED', data: { step: 'extract' } });
  });

  it('one 512 MiB entry of zeros under FLOW_CLI_MAX_UNPACKED_BYTES=1024: refused at its header, with memory bounded', async () => {
    const file = join(catalog, 'bundles', 'bomb-entry.tgz');
    const head = Buffer.concat(toolEntries().map(entryBytes));
    const header = Buffer.alloc(512);
    new Header({ path: 'zeros.bin', type: 'File', mode: 0o644, size: 512 * 1024 * 1024, mtime: new Date(0) }).encode(header, 0);
    await writeBomb(file, Buffer.concat([head, header]), 512 * 1024 * 1024);
    const iid = await publish(file);
    const { run, peakMb } = await installMeasured(iid, { FLOW_CLI_MAX_UNPACKED_BYTES: '1024' });
    expect(run.stderr).toMatch(/unpacks to more than 1024 bytes \(the size limit, FLOW_CLI_MAX_UNPACKED_BYTES\)/);
    expect(run.code).toBe(1);
    expect(peakMb).toBeLessThan(150);
    expect(tmpLeft()).toEqual([]);
  });

  it('more entries than FLOW_CLI_MAX_ENTRIES', async () => {
    const many = Array.from({ length: 10 }, (_, i) => ({ path: `f${i}`, body: 'x' }));
    await refused(await publish(tgz([...toolEntries(), ...many])), /more than 5 entries \(FLOW_CLI_MAX_ENTRIES\)/, { FLOW_CLI_MAX_ENTRIES: '5' });
  });

  it('one file over FLOW_CLI_MAX_ENTRY_BYTES', async () => {
    await refused(await publish(tgz([...toolEntries(), { path: 'big.bin', body: Buffer.alloc(4096) }])), /entry "big\.bin" is 4096 bytes, over the limit for one file of 1000 bytes \(FLOW_CLI_MAX_ENTRY_BYTES\)/, { FLOW_CLI_MAX_ENTRY_BYTES: '1000' });
  });

  it('a path longer than 1024 bytes, and one nested deeper than 64 directories', async () => {
    const long = `${'x'.repeat(200)}/`.repeat(6) + 'f';
    await refused(await publish(tgz([...toolEntries(), { path: long, body: 'x' }])), /entry "x{60}…" is 1207 bytes long, over the path limit of 1024 bytes/);
    const deep = `${Array(70).fill('d').join('/')}/f`;
    await refused(await publish(tgz([...toolEntries(), { path: deep, body: 'x' }])), /is nested deeper than 64 directories/);
  });

  it('a tar whose first name starts with the gzip magic bytes (a second, unchecked decompression): refused', async () => {
    const tar = tarOf([{ path: 'XXnested', body: 'x' }, ...toolEntries()]);
    tar[0] = 0x1f;
    tar[1] = 0x8b;
    fixChecksum(tar, 0);
    await refused(await publish(gzipSync(tar)), /entry ".*nested" has control characters in its name/);
  });
});

describe('compression is told from the bytes: anything but tar and tar.gz is refused with a clear message', () => {
  it.each([
    ['zstd', () => zstdFrame(tarOf(toolEntries())), /the bundle at .* is compressed with zstd; Flow accepts tar and tar\.gz \(gzip\) bundles/],
    ['xz', () => Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), Buffer.alloc(600)]), /is compressed with xz; Flow accepts tar and tar\.gz/],
    ['bzip2', () => Buffer.concat([Buffer.from('BZh91AY&SY'), Buffer.alloc(600)]), /is compressed with bzip2; Flow accepts tar and tar\.gz/],
    ['zip', () => Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(600)]), /is a zip archive; Flow accepts tar and tar\.gz/],
    ['brotli (no signature)', () => brotliCompressSync(tarOf(toolEntries())), /is not a tar archive, nor gzip-compressed \(brotli and other compressions are not accepted\)/],
  ] as [string, () => Buffer, RegExp][])('%s: refused, INSTALL_FAILED recorded, temp dir removed', async (_name, make, pattern) => {
    const iid = await publish(make());
    await refused(iid, pattern);
    expect(lastEvent()).toMatchObject({ type: 'INSTALL_FAILED', data: { step: 'extract' } });
  });

  it('an uncompressed tar installs', async () => {
    const iid = await publish(tarOf(toolEntries()));
    const r = await f(['install', iid], env());
    expect(r.code, r.stderr).toBe(0);
    await uninstall();
  });
});

describe('every failure path records INSTALL_FAILED with its step and leaves no temp dir', () => {
  it('download: the bundle is missing (404)', async () => {
    await refused(await publish(null, { url: 'bundles/missing.tgz' }), /downloading .*missing\.tgz failed: 404/);
    expect(lastEvent()).toMatchObject({ type: 'INSTALL_FAILED', data: { step: 'download' } });
  });

  it('verify: the sha256 does not match (and the download’s own digest is not echoed)', async () => {
    const bundle = tgz(toolEntries());
    const r = await refused(await publish(bundle, { sha256: 'f'.repeat(64) }), /checksum mismatch for .*: the catalog says sha256 f{64}, but the \d+ bytes downloaded hash differently; nothing was installed/);
    expect(r.stderr).not.toContain(createHash('sha256').update(bundle).digest('hex'));
    expect(lastEvent()).toMatchObject({ type: 'INSTALL_FAILED', data: { step: 'checksum' } });
  });

  it('extract: a device entry', async () => {
    await refused(await publish(tgz([...toolEntries(), { path: 'null-copy', type: 'CharacterDevice' }])), /entry "null-copy" is a CharacterDevice/);
    expect(lastEvent()).toMatchObject({ type: 'INSTALL_FAILED', data: { step: 'extract' } });
  });

  it('manifest: the bundle’s own flow-tool.toml is not valid', async () => {
    await refused(await publish(tgz([{ path: 'flow-tool.toml', body: 'version = 1\nid = "hostile"\n[exec\n' }, { path: 'main.sh', body: 'x' }])), /flow-tool\.toml: not valid TOML/);
    expect(lastEvent()).toMatchObject({ type: 'INSTALL_FAILED', data: { step: 'manifest' } });
  });

  it('build: f install --build with a build that fails', async () => {
    const entries = [{ path: 'flow-tool.toml', body: manifest('hostile', 'run = ["false"]\nbuild = ["sh", "build.sh"]') }, { path: 'build.sh', body: 'echo broken >&2; exit 3\n' }];
    const m = { version: 1, id: 'hostile', language: 'sh', binary_name: 'hostile', exec: { run: ['false'], build: ['sh', 'build.sh'] } };
    await refused(await publish(tgz(entries), { manifest: m }), /building hostile failed: exit code 3/, {}, ['--build']);
    expect(lastEvent()).toMatchObject({ type: 'INSTALL_FAILED', data: { step: 'build' } });
  });

  it('a work dir that a killed f install left behind goes with the next install', async () => {
    const stale = join(sb.home, 'cli/tmp', `${newInstallId()}-KiLLeD`);
    mkdirSync(join(stale, 'install/bundle'), { recursive: true });
    writeFileSync(join(stale, 'bundle'), 'half a download');
    await refused(await publish(tgz([...toolEntries(), { path: 'null-copy', type: 'CharacterDevice' }])), /entry "null-copy" is a CharacterDevice/);
    expect(existsSync(stale)).toBe(false);
  });

  it('request: a limit in the environment that is not a number', async () => {
    await refused(await publish(tgz(toolEntries())), /FLOW_CLI_MAX_ENTRIES must be a positive whole number/, { FLOW_CLI_MAX_ENTRIES: 'lots' });
    expect(lastEvent()).toMatchObject({ type: 'INSTALL_FAILED', data: { step: 'request' } });
  });
});

/** A catalog server whose bundle answers are scripted per test. */
async function scriptedCatalog(bundle: (res: ServerResponse) => void, recordFor: (base: string) => Record<string, unknown> | 'stall'): Promise<{ base: string; iid: string; close(): Promise<void> }> {
  const iid = newInstallId();
  const sockets = new Set<Socket>();
  let base = '';
  const srv: Server = createServer((req, res) => {
    if (req.url === `/${iid}.json`) {
      const rec = recordFor(base);
      if (rec === 'stall') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"install_id": ');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ install_id: iid, ...rec }));
      return;
    }
    if (req.url === '/bundle.tgz') return bundle(res);
    res.writeHead(404).end();
  });
  srv.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(srv.address() as { port: number }).port}/`;
  return {
    base,
    iid,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}

const plainRecord = () => ({ id: 'hostile', version: '1.0.0', published_at: '2026-04-02T12:00:00Z', source: { kind: 'tarball', url: 'bundle.tgz', sha256: '0'.repeat(64) }, manifest: { version: 1, id: 'hostile', language: 'sh', binary_name: 'hostile', exec: { run: ['sh', 'main.sh'] } } });

describe('a catalog server that stops sending, or never stops', () => {
  it('a bundle that stalls after a few bytes: an idle timeout (FLOW_CLI_DOWNLOAD_IDLE_MS) with a clear error', async () => {
    const cat = await scriptedCatalog((res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '100000' });
      res.write(Buffer.alloc(1000));
    }, plainRecord);
    try {
      await refused(cat.iid, /no data from http:\/\/127\.0\.0\.1:\d+\/bundle\.tgz for 0\.5 s \(FLOW_CLI_DOWNLOAD_IDLE_MS\); nothing was installed/, { FLOW_CATALOG_URL: cat.base, FLOW_CLI_DOWNLOAD_IDLE_MS: '500' });
      expect(lastEvent()).toMatchObject({ type: 'INSTALL_FAILED', data: { step: 'download' } });
    } finally {
      await cat.close();
    }
  });

  it('a catalog record that stalls half-way', async () => {
    const cat = await scriptedCatalog(() => {}, () => 'stall');
    try {
      await refused(cat.iid, /no data from http:\/\/127\.0\.0\.1:\d+\/cli_\w+\.json for 0\.5 s \(FLOW_CLI_DOWNLOAD_IDLE_MS\)/, { FLOW_CATALOG_URL: cat.base, FLOW_CLI_DOWNLOAD_IDLE_MS: '500' });
    } finally {
      await cat.close();
    }
  });

  it('a bundle without a length that never ends: stopped at FLOW_CLI_MAX_DOWNLOAD_BYTES', async () => {
    const cat = await scriptedCatalog((res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024);
      const pump = () => {
        while (res.write(chunk));
        res.once('drain', pump);
      };
      res.on('close', () => res.removeAllListeners('drain'));
      pump();
    }, plainRecord);
    try {
      await refused(cat.iid, /is over the download limit of 1048576 bytes \(FLOW_CLI_MAX_DOWNLOAD_BYTES\)/, { FLOW_CATALOG_URL: cat.base, FLOW_CLI_MAX_DOWNLOAD_BYTES: String(1024 * 1024) });
    } finally {
      await cat.close();
    }
  });
});

describe('[exec].build from a catalog runs only when the user asks (f install --build)', () => {
  const built = () => join(sb.dir, 'build-ran');
  const buildEntries = (): Entry[] => [
    { path: 'flow-tool.toml', body: manifest('builder', 'run = ["sh", "-c", "echo unbuilt"]\nbuild = ["sh", "build.sh"]') },
    { path: 'build.sh', body: `echo ran >> "$BUILD_MARKER"\nprintf '#!/bin/sh\\necho built "$@"\\n' > "$FLOW_BUILD_OUT"\nchmod +x "$FLOW_BUILD_OUT"\n` },
  ];
  const buildManifest = { version: 1, id: 'builder', language: 'sh', binary_name: 'builder', exec: { run: ['sh', '-c', 'echo unbuilt'], build: ['sh', 'build.sh'] } };
  let iid = '';
  const benv = () => env({ BUILD_MARKER: built() });

  it('f install without --build installs it but runs no code of it, and says how to build it', async () => {
    iid = await publish(tgz(buildEntries()), { id: 'builder', manifest: buildManifest });
    const r = await f(['install', iid], benv());
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(built())).toBe(false);
    expect(r.stderr).toContain(`builder has a build step from the catalog (sh build.sh) that Flow has not run; to build it: f install --build ${iid}`);
    expect(toolEvents(sb.home, 'builder').map((e) => e.type)).not.toContain('BUILT');
  });

  it('f cli doctor says it needs a build, and how', async () => {
    const r = await f(['cli', 'doctor', 'builder'], benv());
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`FIX  build: needs a build: its [exec].build (sh build.sh) comes from the catalog and has not been run; f install --build ${iid} builds it`);
    const report = json<{ checks: { name: string; ok: boolean }[] }>((await f(['cli', 'doctor', 'builder', '--json'], benv())).stdout);
    expect(report.checks).toContainEqual(expect.objectContaining({ name: 'build', ok: false }));
  });

  it('f cli <id> and its shim say so instead of running a half-built tool', async () => {
    const r = await f(['cli', 'builder', '--', 'x'], benv());
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`builder needs a build before it can run; f install --build ${iid} builds it`);
    const { spawnSync } = await import('node:child_process');
    const shim = spawnSync(join(sb.home, 'bin/builder'), ['x'], { env: { ...process.env, ...benv() }, encoding: 'utf8' });
    expect(shim.status).toBe(1);
    expect(shim.stdout).toBe('');
    expect(shim.stderr).toContain(`f install --build ${iid}`);
    expect(existsSync(built())).toBe(false);
  });

  it('f install --build <install id> builds it once asked; then f cli runs the built program', async () => {
    const r = await f(['install', '--build', iid], benv());
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(built(), 'utf8')).toBe('ran\n');
    expect(toolEvents(sb.home, 'builder').map((e) => e.type)).toContain('BUILT');
    const run = await f(['cli', 'builder', '--', 'x'], benv());
    expect(run.stdout).toBe('built x\n');
    expect((await f(['cli', 'doctor', 'builder'], benv())).stdout).toMatch(/ok {3}build: built: /);
    await uninstall('builder');
  });

  it('f install --build at the first install builds at once', async () => {
    const again = await publish(tgz(buildEntries()), { id: 'builder', manifest: buildManifest });
    const r = await f(['install', '--build', again], benv());
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(built(), 'utf8')).toBe('ran\nran\n');
    expect((await f(['cli', 'builder', '--', 'y'], benv())).stdout).toBe('built y\n');
    await uninstall('builder');
  });
});

describe('what a catalog record may point Flow at', () => {
  let other: Server;
  let otherUrl = '';
  const otherRequests: string[] = [];
  beforeAll(async () => {
    other = createServer((req, res) => {
      otherRequests.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(readFileSync(secret));
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    otherUrl = `http://127.0.0.1:${(other.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((r) => other.close(() => r())));

  it.each([
    ['another port on 127.0.0.1', (p: string) => `http://127.0.0.1:${p}/secret`, /loopback/],
    ['localhost (a name that resolves to loopback)', (p: string) => `http://localhost:${p}/secret`, /loopback/],
    ['127.0.0.1 written as a number', (p: string) => `http://2130706433:${p}/secret`, /loopback/],
    ['IPv4-mapped IPv6 loopback', (p: string) => `http://[::ffff:127.0.0.1]:${p}/secret`, /loopback/],
    ['::1', (p: string) => `http://[::1]:${p}/secret`, /loopback/],
    ['0.0.0.0', (p: string) => `http://0.0.0.0:${p}/secret`, /loopback/],
    ['the cloud metadata address', () => 'http://169.254.169.254/latest/meta-data/', /link-local/],
    ['a private network address', () => 'http://10.1.2.3/bundle.tgz', /private/],
  ])('an http(s) url at %s: refused before any request, for a catalog on another origin', async (_name, url, cls) => {
    const port = otherUrl.split(':').at(-1)!;
    const before = otherRequests.length;
    const r = await refused(await publish(null, { url: url(port), sha256: '0'.repeat(64) }), /points at .*, a .* address; a catalog may send Flow only to its own server or to public hosts \(FLOW_CLI_ALLOW_LOCAL_BUNDLES=1 allows local ones\)/);
    expect(r.stderr).toMatch(cls);
    expect(otherRequests.length).toBe(before);
    expect(r.stderr).not.toContain(secretSha);
  });

  it('a redirect from the catalog’s own server to another local one is held to the same rule', async () => {
    const cat = await scriptedCatalog((res) => {
      res.writeHead(302, { location: `${otherUrl}/secret` }).end();
    }, plainRecord);
    try {
      const before = otherRequests.length;
      await refused(cat.iid, /redirects to .*, a loopback address/, { FLOW_CATALOG_URL: cat.base });
      expect(otherRequests.length).toBe(before);
    } finally {
      await cat.close();
    }
  });

  it('FLOW_CLI_ALLOW_LOCAL_BUNDLES=1 lets a catalog use other local servers; a mismatch still echoes no digest', async () => {
    const r = await refused(await publish(null, { url: `${otherUrl}/secret`, sha256: '0'.repeat(64) }), /checksum mismatch/, { FLOW_CLI_ALLOW_LOCAL_BUNDLES: '1' });
    expect(otherRequests.at(-1)).toBe('/secret');
    expect(r.stderr).not.toContain(secretSha);
  });

  describe('a file:// catalog reads only regular files inside its own directory', () => {
    let dir: string;
    beforeAll(() => {
      dir = join(sb.dir, 'file-catalog');
      mkdirSync(join(dir, 'bundles'), { recursive: true });
      symlinkSync(secret, join(dir, 'bundles', 'link-out.tgz'));
      symlinkSync(sb.dir, join(dir, 'sandbox'));
    });
    const fenv = () => ({ FLOW_CATALOG_URL: pathToFileURL(dir).href });

    it.each([
      ['an absolute file:// url elsewhere', () => pathToFileURL(secret).href],
      ['a relative url that climbs out', () => '../secret.txt'],
      ['an encoded climb', () => 'bundles/%2e%2e/%2e%2e/secret.txt'],
      ['a symbolic link inside the catalog to a file outside', () => 'bundles/link-out.tgz'],
      ['a directory link inside the catalog to outside', () => 'sandbox/secret.txt'],
      ['/dev/zero', () => 'file:///dev/zero'],
    ])('%s: refused, and the file’s digest is not printed', async (_name, url) => {
      const r = await refused(await publish(null, { url: url(), sha256: '0'.repeat(64), dir }), /is outside the catalog directory|is not a file in the catalog directory/, fenv());
      expect(r.stderr).not.toContain(secretSha);
    });

    it('a directory inside the catalog is not a bundle', async () => {
      await refused(await publish(null, { url: 'bundles/', sha256: '0'.repeat(64), dir }), /is not a file in the catalog directory/, fenv());
    });

    it('a bundle inside it still installs', async () => {
      const iid = await publish(tgz(toolEntries()), { dir });
      const r = await f(['install', iid], env(fenv()));
      expect(r.code, r.stderr).toBe(0);
      await uninstall();
    });
  });
});
