import { spawnSync } from 'node:child_process';
import { lstatSync, readdirSync, realpathSync } from 'node:fs';
import { join, sep } from 'node:path';
import { ToolError } from '../errors.js';
import { chooseBins, PROGRAM_NAME, writePackageShim } from './package-shim.js';
import { which } from './which.js';
import { BackendUnavailable, type PackageRequest, type PackageResult } from './types.js';

export const PARM_HELP = 'install parm (GitHub release installer): curl -fsSL https://raw.githubusercontent.com/yhoundz/parm/master/scripts/install.sh | sh';

/** `parm config` prints one `key: value` line per setting (sorted); the two paths are what Flow needs. */
export function parseParmConfig(text: string): { binPath: string; pkgPath: string } {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+):\s?(.*)$/.exec(line.trimEnd());
    if (m) values.set(m[1]!, m[2]!.trim());
  }
  const binPath = values.get('parm_bin_path');
  const pkgPath = values.get('parm_pkg_path');
  if (!binPath || !pkgPath) throw new ToolError(`parm config did not say where parm puts programs (no parm_bin_path/parm_pkg_path in its output); is this yhoundz/parm?`, 'backend');
  return { binPath, pkgPath };
}

/** The programs parm linked for owner/repo: symlinks in its bin dir that point into <pkg>/<owner>/<repo>/. */
export function parmProgramsOf(binPath: string, pkgPath: string, owner: string, repo: string): string[] {
  let root: string;
  try {
    root = realpathSync(join(pkgPath, owner, repo)) + sep;
  } catch {
    return [];
  }
  const out: string[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(binPath);
  } catch {
    return [];
  }
  for (const n of names.sort()) {
    const p = join(binPath, n);
    try {
      if (!lstatSync(p).isSymbolicLink()) continue;
      if (realpathSync(p).startsWith(root) && PROGRAM_NAME.test(n)) out.push(n);
    } catch {
      /* a dangling link is not a program */
    }
  }
  return out;
}

/**
 * The parm backend: GitHub releases through the third-party `parm` program. parm keeps its own
 * configuration (where it links programs); Flow reads it and never changes it, installs with parm,
 * then puts a shim for each program parm linked into $FLOW_HOME/bin.
 */
export async function installWithParm(req: PackageRequest): Promise<PackageResult> {
  const parm = which('parm', req.env);
  if (!parm) throw new BackendUnavailable(`the parm program is not on PATH (${PARM_HELP})`);
  let repoRef = req.name;
  if (!repoRef.includes('/')) {
    const owner = req.env.FLOW_INSTALL_OWNER?.trim();
    if (!owner) throw new ToolError(`parm: "${req.name}" needs an owner (owner/repo), or set FLOW_INSTALL_OWNER`, 'backend');
    repoRef = `${owner}/${repoRef}`;
  }
  if (!/^[A-Za-z0-9._-]+\/[A-Za-z0-9._-]+$/.test(repoRef)) throw new ToolError(`parm: "${repoRef}" is not owner/repo`, 'backend');
  if (req.version !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(req.version)) throw new ToolError(`parm: "${req.version}" is not a release tag`, 'backend');
  const [owner, repo] = repoRef.split('/') as [string, string];

  const config = spawnSync(parm, ['config'], { env: req.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (config.status !== 0) throw new ToolError(`parm config failed (exit ${config.status ?? config.signal}): ${(config.stderr || config.stdout).trim()}`, 'backend');
  const { binPath, pkgPath } = parseParmConfig(config.stdout);

  const args = ['install', req.version ? `${repoRef}@${req.version}` : repoRef];
  if (req.allowUnverified) args.push('--no-verify');
  // parm's own output (progress, notes) goes to stderr: f's stdout is for f's answer (--json).
  const r = spawnSync(parm, args, { stdio: ['ignore', 2, 2], env: req.env });
  if (r.status !== 0) throw new ToolError(`parm install ${args[1]} failed (exit ${r.status ?? r.signal})`, 'backend');

  const bins = chooseBins('parm', repoRef, parmProgramsOf(binPath, pkgPath, owner, repo), req.bin);
  const shims = bins.map((b) => writePackageShim(req.paths, b, `parm package ${repoRef}`, [join(binPath, b)], req.force));
  return { backend: 'parm', installed: shims[0]!, bin: bins[0]!, notes: [`installed ${repoRef}${req.version ? `@${req.version}` : ''} with parm (${bins.join(', ')}; shims in ${req.paths.bin})`] };
}
