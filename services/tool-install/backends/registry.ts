import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { download } from '../download.js';
import { ToolError } from '../errors.js';
import { installLimits } from '../limits.js';
import { isOurShim } from '../shims.js';
import { BackendUnavailable, type PackageRequest, type PackageResult } from './types.js';

/** myflow.sh's package manifest (packages/<name>/<version>/manifest.json or latest.json). */
const RegistryManifestSchema = z.object({
  name: z.string(),
  version: z.string(),
  published_at: z.string().optional(),
  bins: z.array(z.string()).default([]),
  default_bin: z.string().nullable().optional(),
  targets: z.record(z.string(), z.object({ binaries: z.record(z.string(), z.string()), sha256: z.record(z.string(), z.string()).default({}) })),
});

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function targetTriple(): string {
  const a = arch() === 'x64' ? 'x86_64' : arch() === 'arm64' ? 'aarch64' : arch();
  const os = platform() === 'darwin' ? 'apple-darwin' : platform() === 'linux' ? 'unknown-linux-gnu' : platform();
  return `${a}-${os}`;
}

/**
 * The registry backend: a prebuilt binary for this machine's target, sha256-verified. Unlike the
 * original, a manifest without a checksum for the binary is refused (fail closed) unless the
 * user passes --allow-unverified.
 */
export async function installFromRegistry(req: PackageRequest): Promise<PackageResult> {
  const base = (req.registry ?? req.env.FLOW_REGISTRY_URL ?? '').replace(/\/+$/, '');
  if (!base) throw new BackendUnavailable('not configured (set FLOW_REGISTRY_URL or pass --registry)');
  if (!SAFE_NAME.test(req.name)) throw new ToolError(`registry: "${req.name}" is not a registry package name`, 'backend');
  const url = req.version ? `${base}/packages/${req.name}/${encodeURIComponent(req.version)}/manifest.json` : `${base}/packages/${req.name}/latest.json`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    throw new ToolError(`registry ${base} is not reachable (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name})`, 'backend');
  }
  if (res.status === 404) throw new ToolError(`registry: no package "${req.name}"${req.version ? ` version ${req.version}` : ''} at ${base}`, 'backend');
  if (!res.ok) throw new ToolError(`registry answered ${res.status} for ${url}`, 'backend');
  let parsed;
  try {
    parsed = RegistryManifestSchema.safeParse(await res.json());
  } catch {
    throw new ToolError(`registry: ${url} is not JSON`, 'backend');
  }
  if (!parsed.success) throw new ToolError(`registry: ${url} is not a package manifest: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, 'backend');
  const m = parsed.data;
  const triple = targetTriple();
  const target = m.targets[triple];
  if (!target) throw new ToolError(`registry: ${req.name} ${m.version} has no build for ${triple} (it has ${Object.keys(m.targets).join(', ') || 'none'})`, 'backend');
  const bin = req.bin ?? m.default_bin ?? (m.bins.length === 1 ? m.bins[0] : undefined) ?? (target.binaries[req.name] ? req.name : Object.keys(target.binaries)[0]);
  if (!bin || !SAFE_NAME.test(bin) || !target.binaries[bin]) throw new ToolError(`registry: ${req.name} ${m.version} has no binary ${bin ?? ''} for ${triple}`, 'backend');
  const expected = target.sha256[bin]?.toLowerCase();
  if (!expected && !req.allowUnverified) throw new ToolError(`registry: ${req.name} ${m.version} publishes no sha256 for ${bin}; refusing to install it unverified (--allow-unverified to accept)`, 'checksum');
  const dest = join(req.paths.bin, bin);
  if (existsSync(dest) && !req.force && !isOurShim(dest)) throw new ToolError(`${dest} already exists (use --force to overwrite)`, 'register');
  const rel = target.binaries[bin]!;
  const src = new URL(/^https?:\/\//.test(rel) ? rel : `${base}/${rel.replace(/^\/+/, '')}`);
  mkdirSync(req.paths.tmp, { recursive: true });
  const work = mkdtempSync(join(req.paths.tmp, 'registry-'));
  try {
    const file = join(work, bin);
    const got = await download(src, file, installLimits(req.env).maxDownloadBytes);
    if (expected && got.sha256 !== expected) throw new ToolError(`checksum mismatch for ${src.href}: expected ${expected}, got ${got.sha256}; nothing was installed`, 'checksum');
    if (!expected && createHash('sha256').update(readFileSync(file)).digest('hex') !== got.sha256) throw new ToolError('download changed while reading', 'download');
    chmodSync(file, 0o755);
    mkdirSync(req.paths.bin, { recursive: true });
    renameSync(file, dest);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { backend: 'registry', installed: dest, bin, notes: [`installed ${req.name} ${m.version} (${bin}) from ${base}`] };
}
