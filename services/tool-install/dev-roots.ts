import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { ToolError } from './errors.js';
import { loadManifest, MANIFEST_FILE, type LoadedManifest } from './manifest.js';
import type { ToolPaths } from './paths.js';

/** Where tools under development are found without an install step (seed 001's dev roots). */
export const DEFAULT_DEV_ROOTS = ['~/code/lang/go/cli/*', '~/code/lang/rust/cli/*'];

const CliConfigSchema = z.object({
  dev_roots: z.array(z.string().min(1), { error: 'expected an array of directories such as ["~/code/lang/go/cli/*"]' }).optional(),
});

function expandHome(p: string): string {
  if (p === '~') return homedir();
  if (p.startsWith('~/')) return join(homedir(), p.slice(2));
  return p;
}

/** FLOW_CLI_DEV_ROOTS (separated like PATH) wins over dev_roots in $FLOW_HOME/cli/config.toml. */
export function devRootPatterns(paths: ToolPaths, env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.FLOW_CLI_DEV_ROOTS !== undefined) return env.FLOW_CLI_DEV_ROOTS.split(delimiter).filter(Boolean);
  if (existsSync(paths.config)) {
    let data: unknown;
    try {
      data = parseToml(readFileSync(paths.config, 'utf8'));
    } catch (err) {
      throw new ToolError(`${paths.config} is not valid TOML: ${(err as Error).message.split('\n')[0]}`);
    }
    const parsed = CliConfigSchema.safeParse(data);
    if (!parsed.success) throw new ToolError(`${paths.config}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    if (parsed.data.dev_roots) return parsed.data.dev_roots;
  }
  return DEFAULT_DEV_ROOTS;
}

export interface DevTool {
  root: string;
  loaded: LoadedManifest;
}
export interface BrokenManifest {
  path: string;
  error: string;
}
export interface DevScan {
  tools: DevTool[];
  broken: BrokenManifest[];
}

/**
 * Every flow-tool.toml one level under each dev root. A manifest that does not parse or validate
 * is reported beside the others, never allowed to break them (a defect of the original `f`).
 */
export function scanDevRoots(paths: ToolPaths, env: NodeJS.ProcessEnv = process.env): DevScan {
  const tools: DevTool[] = [];
  const broken: BrokenManifest[] = [];
  const seen = new Set<string>();
  for (const pattern of devRootPatterns(paths, env)) {
    const base = resolve(expandHome(pattern.replace(/[\\/]\*$/, '')));
    const candidates: string[] = [];
    if (!pattern.endsWith('*') && existsSync(join(base, MANIFEST_FILE))) candidates.push(base);
    else {
      let names: string[] = [];
      try {
        names = readdirSync(base).sort();
      } catch {
        continue; // a dev root that does not exist is simply empty
      }
      for (const n of names) {
        const dir = join(base, n);
        try {
          if (statSync(dir).isDirectory() && existsSync(join(dir, MANIFEST_FILE))) candidates.push(dir);
        } catch {
          /* vanished while scanning */
        }
      }
    }
    for (const root of candidates) {
      if (seen.has(root)) continue;
      seen.add(root);
      const file = join(root, MANIFEST_FILE);
      try {
        tools.push({ root, loaded: loadManifest(file) });
      } catch (err) {
        broken.push({ path: file, error: err instanceof Error ? err.message : String(err) });
      }
    }
  }
  return { tools, broken };
}
