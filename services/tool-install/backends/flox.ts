import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ToolError } from '../errors.js';
import { chooseBins, PROGRAM_NAME } from './package-shim.js';
import { writePackageShim } from './package-shim.js';
import { which } from './which.js';
import { BackendUnavailable, type PackageRequest, type PackageResult } from './types.js';

export const FLOX_HELP = 'install flox: https://flox.dev/docs/install-flox/';

/** The programs of the environment: `$FLOX_ENV/bin` as `flox activate` sets it, or [] if it cannot be built. */
function envPrograms(flox: string, envDir: string, env: NodeJS.ProcessEnv): string[] {
  const r = spawnSync(flox, ['activate', '-d', envDir, '--', 'sh', '-c', 'printf "%s\\n" "$FLOX_ENV"'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const floxEnv = r.status === 0 ? r.stdout.trim().split('\n').at(-1) : undefined;
  if (!floxEnv) return [];
  try {
    return readdirSync(join(floxEnv, 'bin'))
      .filter((n) => PROGRAM_NAME.test(n))
      .sort();
  } catch {
    return [];
  }
}

/**
 * The flox backend: the package goes into a Flow-owned flox environment ($FLOW_HOME/flox); each
 * program it adds gets a shim that runs it through `flox activate -d <env> -- <program>`. The
 * package name is a catalog pkg-path (ripgrep, python312Packages.pip), which often differs from its
 * programs' names (ripgrep provides rg), so Flow asks the built environment what it now has.
 */
export async function installWithFlox(req: PackageRequest): Promise<PackageResult> {
  const flox = (req.env.FLOX_BIN && existsSync(req.env.FLOX_BIN) ? req.env.FLOX_BIN : null) ?? which('flox', req.env);
  if (!flox) throw new BackendUnavailable(`the flox program is not on PATH (${FLOX_HELP})`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(req.name)) throw new ToolError(`flox: "${req.name}" is not a flox package name`, 'backend');
  if (req.version !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._+*^<>=~ -]*$/.test(req.version)) throw new ToolError(`flox: "${req.version}" is not a version`, 'backend');
  if (req.bin !== undefined && !PROGRAM_NAME.test(req.bin)) throw new ToolError(`flox: "${req.bin}" is not a program name`, 'backend');
  const envDir = join(req.paths.home, 'flox');
  mkdirSync(envDir, { recursive: true });
  // flox's own output goes to stderr: f's stdout is for f's answer (--json).
  const run = (args: string[]) => spawnSync(flox, args, { stdio: ['ignore', 2, 2], env: req.env });
  const fresh = !existsSync(join(envDir, '.flox'));
  if (fresh) {
    const init = run(['init', '-d', envDir, '-n', 'flow']);
    if (init.status !== 0) throw new ToolError(`flox init -d ${envDir} failed (exit ${init.status ?? init.signal})`, 'backend');
  }
  const before = fresh ? [] : envPrograms(flox, envDir, req.env);
  const pkg = req.version ? `${req.name}@${req.version}` : req.name;
  const r = run(['install', '-d', envDir, pkg]);
  if (r.status !== 0) throw new ToolError(`flox install ${pkg} failed (exit ${r.status ?? r.signal})`, 'backend');
  const after = envPrograms(flox, envDir, req.env);
  const added = after.filter((p) => !before.includes(p));
  // Already installed (nothing new): the program named like the package, if the environment has it.
  const provided = added.length > 0 ? added : after.includes(req.name) ? [req.name] : [];
  const bins = req.bin && after.includes(req.bin) ? [req.bin] : chooseBins('flox', pkg, provided, req.bin);
  const shims = bins.map((b) => writePackageShim(req.paths, b, `flox package ${pkg}`, [flox, 'activate', '-d', envDir, '--', b], req.force));
  return { backend: 'flox', installed: shims[0]!, bin: bins[0]!, notes: [`installed ${pkg} with flox (${bins.join(', ')}; shims in ${req.paths.bin})`] };
}
