import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ToolError } from '../errors.js';
import { writeFileAtomic } from '../fs-atomic.js';
import type { ToolPaths } from '../paths.js';
import { isOurShim, SHIM_MARKER } from '../shims.js';

export const PROGRAM_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

function sq(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * $FLOW_HOME/bin/<name>: a marked sh script that execs `argv` with the caller's arguments. A file
 * there that is not a Flow shim is left alone unless --force.
 */
export function writePackageShim(paths: ToolPaths, name: string, what: string, argv: readonly string[], force: boolean): string {
  if (!PROGRAM_NAME.test(name)) throw new ToolError(`"${name}" is not a program name Flow can put on PATH`, 'register');
  const shim = join(paths.bin, name);
  if (existsSync(shim) && !isOurShim(shim) && !force) throw new ToolError(`${shim} already exists (use --force to overwrite)`, 'register');
  mkdirSync(paths.bin, { recursive: true });
  writeFileAtomic(shim, ['#!/bin/sh', SHIM_MARKER, `# ${name}: ${what.replaceAll('\n', ' ')}`, `exec ${argv.map(sq).join(' ')} "$@"`, ''].join('\n'), 0o755);
  return shim;
}

/** Which of a package's programs get a shim: the one asked for with --bin, else all of them. */
export function chooseBins(backend: string, pkg: string, provided: readonly string[], wanted: string | undefined): string[] {
  if (wanted) {
    if (!provided.includes(wanted)) throw new ToolError(`${backend}: ${pkg} provides no program "${wanted}" (it provides: ${provided.join(', ') || 'none'})`, 'backend');
    return [wanted];
  }
  if (provided.length === 0) throw new ToolError(`${backend} installed ${pkg}, but it put no program on PATH; nothing to run`, 'backend');
  return [...provided];
}
