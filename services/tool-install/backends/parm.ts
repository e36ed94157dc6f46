import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { ToolError } from '../errors.js';
import { which } from './which.js';
import { BackendUnavailable, type PackageRequest, type PackageResult } from './types.js';

export const PARM_HELP = 'install parm (GitHub release installer): curl -fsSL https://raw.githubusercontent.com/yhoundz/parm/master/scripts/install.sh | sh';

/** The parm backend: GitHub releases through the third-party `parm` program, linked into $FLOW_HOME/bin. */
export async function installWithParm(req: PackageRequest): Promise<PackageResult> {
  const parm = which('parm', req.env);
  if (!parm) throw new BackendUnavailable(`the parm program is not on PATH (${PARM_HELP})`);
  let repo = req.name;
  if (!repo.includes('/')) {
    const owner = req.env.FLOW_INSTALL_OWNER?.trim();
    if (!owner) throw new ToolError(`parm: "${req.name}" needs an owner (owner/repo), or set FLOW_INSTALL_OWNER`, 'backend');
    repo = `${owner}/${repo}`;
  }
  if (!/^[A-Za-z0-9._-]+\/[A-Za-z0-9._-]+$/.test(repo)) throw new ToolError(`parm: "${repo}" is not owner/repo`, 'backend');
  mkdirSync(req.paths.bin, { recursive: true });
  const run = (args: string[]) => spawnSync(parm, args, { stdio: 'inherit', env: req.env });
  if (run(['config', 'set', `parm_bin_path=${req.paths.bin}`]).status !== 0) throw new ToolError('parm config set failed', 'backend');
  const args = ['install', req.version ? `${repo}@${req.version}` : repo];
  if (req.allowUnverified) args.push('--no-verify');
  const r = run(args);
  if (r.status !== 0) throw new ToolError(`parm install ${repo} failed (exit ${r.status ?? r.signal})`, 'backend');
  return { backend: 'parm', installed: req.paths.bin, bin: repo.split('/')[1]!, notes: [`installed ${repo} with parm into ${req.paths.bin}`] };
}
