import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { writeFileAtomic } from './fs-atomic.js';
import type { ToolPaths } from './paths.js';

/** The line that marks a file in $FLOW_HOME/bin as ours; files without it are never touched. */
export const SHIM_MARKER = '# flow-shim v1';

function sq(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

export interface ShimTarget {
  id: string;
  /** Absolute or relative to cwd; for a built tool, the built program. */
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  description: string;
}

/**
 * A POSIX sh script that does what `f cli <id>` does, with no Node in between: go to the tool's
 * root, set its env, exec the program with "$@" (arguments untouched, exit code and signals are
 * the tool's own because exec replaces the shell). FLOW_CALLER_CWD tells the tool where it was
 * called from, since it runs in its own root.
 */
export function shimScript(t: ShimTarget): string {
  const lines = [
    '#!/bin/sh',
    SHIM_MARKER,
    `# ${t.id}: ${t.description.replaceAll('\n', ' ')}`,
    '# Written by `f install`; `f cli upgrade` and `f cli uninstall` keep it true. Do not edit.',
    'FLOW_CALLER_CWD=$PWD; export FLOW_CALLER_CWD',
    `cd ${sq(t.cwd)} || exit 127`,
    ...Object.entries(t.env).map(([k, v]) => `${k}=${sq(v)}; export ${k}`),
    `exec ${t.argv.map(sq).join(' ')} "$@"`,
    '',
  ];
  return lines.join('\n');
}

export function shimPath(paths: ToolPaths, name: string): string {
  return join(paths.bin, name);
}

export function isOurShim(file: string): boolean {
  try {
    return readFileSync(file, 'utf8').split('\n', 3)[1] === SHIM_MARKER;
  } catch {
    return false;
  }
}

export interface ShimOutcome {
  written: string[];
  /** Names whose bin/ entry belongs to something else (a package binary): left alone. */
  skipped: string[];
}

/** Writes bin/<name> for the id and each alias; rewrites only when the content changes. */
export function writeShims(paths: ToolPaths, names: readonly string[], t: ShimTarget): ShimOutcome {
  mkdirSync(paths.bin, { recursive: true });
  const script = shimScript(t);
  const out: ShimOutcome = { written: [], skipped: [] };
  for (const name of names) {
    const file = shimPath(paths, name);
    if (existsSync(file) && !isOurShim(file)) {
      out.skipped.push(file);
      continue;
    }
    let current: string | null = null;
    try {
      current = readFileSync(file, 'utf8');
    } catch {
      /* new shim */
    }
    if (current !== script) {
      writeFileAtomic(file, script, 0o755);
      chmodSync(file, 0o755);
    }
    out.written.push(file);
  }
  return out;
}

export function removeShims(paths: ToolPaths, names: readonly string[]): string[] {
  const removed: string[] = [];
  for (const name of names) {
    const file = shimPath(paths, name);
    if (isOurShim(file)) {
      rmSync(file, { force: true });
      removed.push(file);
    }
  }
  return removed;
}

export function binOnPath(paths: ToolPaths, env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.PATH ?? '').split(delimiter).some((p) => p.replace(/\/+$/, '') === paths.bin);
}

export function pathAdvice(paths: ToolPaths): string {
  return `add ${paths.bin} to PATH to run installed tools by name with no Node start-up, e.g. in ~/.profile or ~/.zshrc:\n  export PATH="${paths.bin}:$PATH"`;
}
