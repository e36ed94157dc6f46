import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ToolError } from '../errors.js';
import { writeFileAtomic } from '../fs-atomic.js';
import { isOurShim, SHIM_MARKER } from '../shims.js';
import { which } from './which.js';
import { BackendUnavailable, type PackageRequest, type PackageResult } from './types.js';

export const FLOX_HELP = 'install flox: https://flox.dev/docs/install-flox/';

function sq(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** The flox backend: the package goes into a Flow-owned flox environment; a shim runs it through `flox activate`. */
export async function installWithFlox(req: PackageRequest): Promise<PackageResult> {
  const flox = (req.env.FLOX_BIN && existsSync(req.env.FLOX_BIN) ? req.env.FLOX_BIN : null) ?? which('flox', req.env);
  if (!flox) throw new BackendUnavailable(`the flox program is not on PATH (${FLOX_HELP})`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(req.name)) throw new ToolError(`flox: "${req.name}" is not a flox package name`, 'backend');
  const bin = req.bin ?? req.name;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(bin)) throw new ToolError(`flox: "${bin}" is not a program name`, 'backend');
  const envDir = join(req.paths.home, 'flox');
  mkdirSync(envDir, { recursive: true });
  const run = (args: string[]) => spawnSync(flox, args, { stdio: 'inherit', env: req.env });
  if (!existsSync(join(envDir, '.flox')) && run(['init', '--bare', '-d', envDir]).status !== 0) throw new ToolError('flox init failed', 'backend');
  const pkg = req.version ? `${req.name}@${req.version}` : req.name;
  if (run(['install', '-d', envDir, pkg]).status !== 0) throw new ToolError(`flox install ${pkg} failed`, 'backend');
  const shim = join(req.paths.bin, bin);
  if (existsSync(shim) && !isOurShim(shim) && !req.force) throw new ToolError(`${shim} already exists (use --force to overwrite)`, 'register');
  writeFileAtomic(shim, ['#!/bin/sh', SHIM_MARKER, `# ${bin}: flox package ${pkg}`, `exec ${sq(flox)} activate -d ${sq(envDir)} -- ${sq(bin)} "$@"`, ''].join('\n'), 0o755);
  return { backend: 'flox', installed: shim, bin, notes: [`installed ${pkg} with flox (shim at ${shim})`] };
}
