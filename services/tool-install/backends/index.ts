import { ToolError } from '../errors.js';
import type { ToolInstallEntry } from '../entry.js';
import { installWithFlox } from './flox.js';
import { installWithParm } from './parm.js';
import { installFromRegistry } from './registry.js';
import { BACKENDS, BackendUnavailable, type BackendName, type PackageRequest, type PackageResult } from './types.js';

const run: Record<BackendName, (req: PackageRequest) => Promise<PackageResult>> = {
  registry: installFromRegistry,
  parm: installWithParm,
  flox: installWithFlox,
};

export function parseBackend(s: string | undefined): BackendName | 'auto' {
  if (s === undefined || s === 'auto') return 'auto';
  if ((BACKENDS as readonly string[]).includes(s)) return s as BackendName;
  throw new ToolError(`unknown backend "${s}" (choose auto, ${BACKENDS.join(', ')})`);
}

/**
 * Package installs, as before Flow knew about external CLIs: one chosen backend, or `auto`,
 * which tries registry, parm and flox in that order and reports why each one did not serve.
 */
export async function installPackage(req: PackageRequest, backend: BackendName | 'auto', hint: string | null, entry: ToolInstallEntry): Promise<PackageResult> {
  // Its stream is named after the program it provides (owner/repo → repo); invalid ids are not recorded.
  const id = req.bin ?? req.name.split('/').at(-1)!;
  await entry.submit({ type: 'tool.install', id, source: { kind: 'package', name: req.name, backend }, force: req.force, upgrade: false });
  try {
    const res = await chooseAndInstall(req, backend, hint);
    entry.observe(id, 'REGISTERED', {
      registration: { kind: 'package', installId: null, sourceRoot: res.installed, manifestPath: null, version: req.version ?? null, installedAt: new Date().toISOString() },
      replaced: [],
      active: true,
      shims: [res.installed],
    });
    return res;
  } catch (err) {
    entry.observe(id, 'INSTALL_FAILED', { step: 'backend', reason: (err as Error).message });
    throw err;
  }
}

async function chooseAndInstall(req: PackageRequest, backend: BackendName | 'auto', hint: string | null): Promise<PackageResult> {
  if (backend !== 'auto') {
    try {
      return await run[backend](req);
    } catch (err) {
      if (err instanceof BackendUnavailable) throw new ToolError(`cannot install ${req.name} with ${backend}: ${err.message}`, 'backend');
      throw err;
    }
  }
  const reasons: string[] = [];
  for (const b of BACKENDS) {
    try {
      return await run[b](req);
    } catch (err) {
      reasons.push(`  ${b}: ${(err as Error).message}`);
    }
  }
  const tail = hint ? `\n${hint}` : '';
  throw new ToolError(`could not install "${req.name}" with any package backend:\n${reasons.join('\n')}${tail}`, 'backend');
}
