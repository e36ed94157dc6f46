import { randomBytes } from 'node:crypto';
import { chmodSync, createReadStream, createWriteStream, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Parser, type ReadEntry } from 'tar';
import { z } from 'zod';
import { download, type DownloadHooks } from '../tool-install/download.js';
import { ToolError } from '../tool-install/errors.js';
import { writeFileAtomic } from '../tool-install/fs-atomic.js';

/**
 * cloudflared on first use (seed 002: Fluxy "auto-downloads cloudflared to ~/.fluxy/bin/ on first
 * run"). When the default tunnel command finds no cloudflared, the release asset for this OS/arch
 * is fetched into $FLOW_HOME/bin/, checked against a pinned sha256, made executable and moved into
 * place with one rename; a small record next to it says which version it is. Concurrent starts
 * share one download. Settings: FLOW_CLOUDFLARED_VERSION, FLOW_CLOUDFLARED_URL (a mirror, or
 * another build), FLOW_CLOUDFLARED_SHA256 (the digest to expect instead of the pinned one),
 * FLOW_CLOUDFLARED_UNVERIFIED=1 (take an asset with no digest at all, with a warning),
 * FLOW_CLOUDFLARED_MAX_BYTES, FLOW_CLOUDFLARED_IDLE_MS.
 */
export const CLOUDFLARED_VERSION = '2025.11.1';

/**
 * sha256 of the release assets, per version, as published at
 * github.com/cloudflare/cloudflared/releases/download/<version>/<asset>. Only digests Flow could
 * check against a second source are here: these are the ones cashapp/hermit-packages pins in its
 * cloudflared.hcl (commit b1f0baec5ae2759ed9ec7f2a2610bb36dcf036fd). Hermit pins no
 * darwin-arm64 build, so that asset has no entry: it needs FLOW_CLOUDFLARED_SHA256 (or the
 * explicit FLOW_CLOUDFLARED_UNVERIFIED=1). Add a version only with digests checked the same way.
 */
export const CLOUDFLARED_SHA256: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  '2025.11.1': {
    'cloudflared-linux-amd64': '991dffd8889ee9f0147b6b48933da9e4407e68ea8c6d984f55fa2d3db4bb431d',
    'cloudflared-linux-arm64': '9979dc152097a29b6de4d1ef13e2f1821c67a6f096f88cc18f0fd25106305d3a',
    'cloudflared-darwin-amd64.tgz': '155a288fef19dba08f0c7145c16a207baf137462d8a1289a78bf8564f9e51244',
  },
  '2025.10.1': {
    'cloudflared-linux-amd64': 'bf5382fa25766c532a23788491ccef4e3ac9ed488318124e7f58ee0865277c4f',
    'cloudflared-linux-arm64': '69f86a3b44b985ebd3d9302e94066b32f3c7454ff73504050fae1f124081c939',
    'cloudflared-darwin-amd64.tgz': 'e3601ece104e816f0b3ea51459367b59d6cd14fa9ecc4f36c540b53acb3a1017',
  },
};

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386' };

/** The release asset cloudflare publishes for an OS/arch (its own naming), or an error saying there is none. */
export function cloudflaredAsset(platform: NodeJS.Platform | string = process.platform, arch: string = process.arch): { name: string; tgz: boolean } {
  const a = ARCH[arch];
  if (platform === 'linux' && a) return { name: `cloudflared-linux-${a}`, tgz: false };
  if (platform === 'darwin' && (a === 'amd64' || a === 'arm64')) return { name: `cloudflared-darwin-${a}.tgz`, tgz: true };
  if (platform === 'win32' && (a === 'amd64' || a === '386')) return { name: `cloudflared-windows-${a}.exe`, tgz: false };
  throw new ToolError(`cloudflare publishes no cloudflared build for ${platform}/${arch}; install cloudflared yourself and put it on PATH`, 'download');
}

export const CloudflaredRecordSchema = z.object({
  version: z.string(),
  asset: z.string(),
  url: z.string(),
  sha256: z.string(),
  /** false: no digest was expected (FLOW_CLOUDFLARED_UNVERIFIED=1); sha256 is then only what arrived. */
  verified: z.boolean().default(true),
  bytes: z.number().int().nonnegative(),
  installedAt: z.string(),
});
export type CloudflaredRecord = z.infer<typeof CloudflaredRecordSchema>;

export interface CloudflaredPlan {
  version: string;
  asset: string;
  tgz: boolean;
  url: URL;
  /** The digest the bytes must have; null only when FLOW_CLOUDFLARED_UNVERIFIED=1 took an asset with none. */
  sha256: string | null;
  /** Why the download is not verified (said as a warning when it starts); null when it is. */
  unverified: string | null;
  maxBytes: number;
  idleMs: number;
  dest: string;
  record: string;
}

function positive(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new ToolError(`${name} must be a positive whole number, not "${raw}"`, 'request');
  return n;
}

/** What would be downloaded, from where, expecting which digest: every setting checked before a byte moves. */
export function cloudflaredPlan(home: string, env: NodeJS.ProcessEnv = process.env, platform: string = process.platform, arch: string = process.arch): CloudflaredPlan {
  const version = env.FLOW_CLOUDFLARED_VERSION?.trim() || CLOUDFLARED_VERSION;
  if (!/^\d{4}\.\d{1,2}\.\d{1,3}$/.test(version)) throw new ToolError(`FLOW_CLOUDFLARED_VERSION must be a cloudflared release such as ${CLOUDFLARED_VERSION}, not "${version}"`, 'request');
  const { name, tgz } = cloudflaredAsset(platform, arch);
  const rawUrl = env.FLOW_CLOUDFLARED_URL?.trim() || `https://github.com/cloudflare/cloudflared/releases/download/${version}/${name}`;
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new ToolError(`FLOW_CLOUDFLARED_URL is not a URL: "${rawUrl}"`, 'request');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ToolError(`FLOW_CLOUDFLARED_URL must be http(s), not ${url.protocol}`, 'request');
  const override = env.FLOW_CLOUDFLARED_SHA256?.trim().toLowerCase();
  if (override !== undefined && override !== '' && !/^[0-9a-f]{64}$/.test(override)) throw new ToolError('FLOW_CLOUDFLARED_SHA256 must be 64 hex digits (a sha256)', 'request');
  const sha256 = override || CLOUDFLARED_SHA256[version]?.[name] || null;
  const optOut = env.FLOW_CLOUDFLARED_UNVERIFIED?.trim();
  if (optOut !== undefined && optOut !== '' && optOut !== '0' && optOut !== '1') throw new ToolError(`FLOW_CLOUDFLARED_UNVERIFIED is 1 (take an asset Flow has no checksum for) or 0, not "${optOut}"`, 'request');
  const missing = `no pinned checksum for ${version}/${name}; set FLOW_CLOUDFLARED_SHA256 to verify it`;
  if (!sha256 && optOut !== '1') {
    throw new ToolError(`${missing} (the digest cloudflare's release lists for it), install cloudflared yourself, or set FLOW_CLOUDFLARED_UNVERIFIED=1 to run it unverified`, 'checksum');
  }
  const bin = join(home, 'bin');
  return {
    version,
    asset: name,
    tgz,
    url,
    sha256,
    unverified: sha256 ? null : `${missing}: FLOW_CLOUDFLARED_UNVERIFIED=1, so it is downloaded and run without any check of its bytes`,
    maxBytes: positive(env, 'FLOW_CLOUDFLARED_MAX_BYTES', 200 * 1024 * 1024),
    idleMs: positive(env, 'FLOW_CLOUDFLARED_IDLE_MS', 30_000),
    dest: join(bin, platform === 'win32' ? 'cloudflared.exe' : 'cloudflared'),
    record: join(bin, 'cloudflared.json'),
  };
}

/** The record of a cloudflared Flow downloaded, or null (none, or not readable as one). */
export function readCloudflaredRecord(home: string): CloudflaredRecord | null {
  try {
    return CloudflaredRecordSchema.parse(JSON.parse(readFileSync(join(home, 'bin', 'cloudflared.json'), 'utf8')));
  } catch {
    return null;
  }
}

/** The one regular file named cloudflared in a release .tgz, streamed out under the size limit. */
async function extractFromTgz(archive: string, out: string, maxBytes: number): Promise<void> {
  let found = false;
  const writes: Promise<void>[] = [];
  const parser = new Parser({
    onReadEntry: (entry: ReadEntry) => {
      if (!found && entry.type === 'File' && entry.path.replace(/^\.\//, '') === 'cloudflared') {
        found = true;
        if ((entry.size ?? 0) > maxBytes) {
          entry.resume();
          writes.push(Promise.reject(new ToolError(`the cloudflared in the archive is ${entry.size} bytes, over ${maxBytes} (FLOW_CLOUDFLARED_MAX_BYTES)`, 'extract')));
          return;
        }
        writes.push(pipeline(entry, createWriteStream(out, { mode: 0o600 })));
      } else entry.resume();
    },
  });
  try {
    await pipeline(createReadStream(archive), parser);
    await Promise.all(writes);
  } catch (err) {
    if (err instanceof ToolError) throw err;
    throw new ToolError(`the downloaded archive is not a readable .tgz: ${(err as Error).message}`, 'extract');
  }
  if (!found) throw new ToolError('the downloaded archive holds no file named cloudflared', 'extract');
}

export interface CloudflaredProgress {
  onStart?(plan: CloudflaredPlan, totalBytes: number | null): void;
  onData?(receivedBytes: number, totalBytes: number | null): void;
  /** Something the user should know before running it (an unverified download). */
  onWarning?(line: string): void;
}

/** Fetch, verify, unpack if needed, chmod, rename into place, record. Temp files live in bin/ so the rename is atomic. */
async function fetchCloudflared(plan: CloudflaredPlan, progress: CloudflaredProgress): Promise<CloudflaredRecord> {
  const dir = join(plan.dest, '..');
  mkdirSync(dir, { recursive: true });
  const tag = `${process.pid}.${randomBytes(4).toString('hex')}`;
  const part = join(dir, `.cloudflared.${tag}.part`);
  const unpacked = join(dir, `.cloudflared.${tag}.bin`);
  try {
    const hooks: DownloadHooks = { onStart: (total) => progress.onStart?.(plan, total), onData: (r, t) => progress.onData?.(r, t) };
    const got = await download(plan.url, part, plan.maxBytes, hooks, { idleMs: plan.idleMs, step: 'download', what: 'the cloudflared url' });
    if (plan.sha256 !== null && got.sha256 !== plan.sha256) {
      throw new ToolError(`checksum mismatch for ${plan.url.href}: expected sha256 ${plan.sha256} (cloudflared ${plan.version}, ${plan.asset}), got ${got.sha256}; the file was discarded (a wrong mirror, or set FLOW_CLOUDFLARED_SHA256 for another build)`, 'checksum');
    }
    let program = part;
    if (plan.tgz) {
      await extractFromTgz(part, unpacked, plan.maxBytes);
      program = unpacked;
    }
    chmodSync(program, 0o755);
    renameSync(program, plan.dest);
    const record: CloudflaredRecord = { version: plan.version, asset: plan.asset, url: plan.url.href, sha256: got.sha256, verified: plan.sha256 !== null, bytes: got.bytes, installedAt: new Date().toISOString() };
    writeFileAtomic(plan.record, JSON.stringify(record, null, 2) + '\n');
    return record;
  } finally {
    rmSync(part, { force: true });
    rmSync(unpacked, { force: true });
  }
}

function isExecutableFile(p: string): boolean {
  try {
    const st = statSync(p);
    return st.isFile() && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** One download per destination at a time: concurrent tunnel starts wait for the same one. */
interface Flight {
  promise: Promise<CloudflaredRecord>;
  listeners: Set<CloudflaredProgress>;
  started: { plan: CloudflaredPlan; total: number | null } | null;
}
const inFlight = new Map<string, Flight>();

export interface EnsureResult {
  path: string;
  record: CloudflaredRecord | null;
  /** This call (or one it joined) downloaded it; false when it was already there. */
  downloaded: boolean;
}

/** $FLOW_HOME/bin/cloudflared if it is there (and is the configured version, when Flow downloaded it), else null. */
export function installedCloudflared(plan: CloudflaredPlan, home: string): { path: string; record: CloudflaredRecord | null } | null {
  const present = readCloudflaredRecord(home);
  return isExecutableFile(plan.dest) && (present === null || present.version === plan.version) ? { path: plan.dest, record: present } : null;
}

/**
 * $FLOW_HOME/bin/cloudflared, downloading it first if it is not there yet. Whoever calls while a
 * download runs joins it (and hears that it started, then its progress) instead of starting another.
 */
export async function ensureCloudflared(home: string, env: NodeJS.ProcessEnv = process.env, progress: CloudflaredProgress = {}, platform: string = process.platform, arch: string = process.arch): Promise<EnsureResult> {
  const plan = cloudflaredPlan(home, env, platform, arch);
  const present = installedCloudflared(plan, home);
  if (present) return { ...present, downloaded: false };
  // Every caller hears it, those that join a download already under way too.
  if (plan.unverified) progress.onWarning?.(plan.unverified);
  let flight = inFlight.get(plan.dest);
  if (!flight) {
    const f: Flight = { promise: Promise.resolve(null as never), listeners: new Set(), started: null };
    const fanOut: CloudflaredProgress = {
      onStart: (p, total) => {
        f.started = { plan: p, total };
        for (const l of f.listeners) l.onStart?.(p, total);
      },
      onData: (received, total) => {
        for (const l of f.listeners) l.onData?.(received, total);
      },
    };
    f.promise = fetchCloudflared(plan, fanOut).finally(() => inFlight.delete(plan.dest));
    flight = f;
    inFlight.set(plan.dest, flight);
  } else if (flight.started) {
    progress.onStart?.(flight.started.plan, flight.started.total);
  }
  flight.listeners.add(progress);
  try {
    const record = await flight.promise;
    return { path: plan.dest, record, downloaded: true };
  } finally {
    flight.listeners.delete(progress);
  }
}
