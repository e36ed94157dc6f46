import { buildBlocked, ensureBuilt, needsBuildArgv } from './build-cache.js';
import type { ToolPaths } from './paths.js';
import { rememberPlan } from './run-cache-write.js';
import type { RunPlan } from './run-plan.js';
import { planOf, resolveTool, type ResolvedTool } from './resolver.js';
import { writeShims } from './shims.js';

/** The shim for an installed tool, kept in step with what `f cli` would run. */
export function refreshShims(paths: ToolPaths, r: ResolvedTool, argv: string[]): void {
  if (r.kind === 'dev') return;
  writeShims(paths, [r.id, ...r.manifest.aliases], {
    id: r.id,
    argv,
    cwd: r.root,
    env: r.manifest.exec.env,
    description: `${r.kind} ${r.kind === 'remote' ? r.installId : r.root}`,
  });
}

/**
 * What a shim of `r` runs: exec.run, or the built program (building it if due), or, for a remote
 * tool whose build the user has not allowed yet, a sentence saying how to allow it.
 */
export async function shimArgvOf(paths: ToolPaths, r: ResolvedTool): Promise<string[]> {
  const plan = planOf(r);
  if (!plan.build) return plan.argv;
  const blocked = buildBlocked(paths, plan.build);
  if (blocked) return needsBuildArgv(blocked.message);
  return [(await ensureBuilt(paths, plan.build)).output];
}

/**
 * The slow path of `f cli`: full resolution, a build if one is due (a remote tool's only once
 * the user allowed it: until then this refuses, saying how), then a cached plan.
 */
export async function prepareRun(paths: ToolPaths, name: string): Promise<{ plan: RunPlan; argv: string[]; resolved: ResolvedTool }> {
  const resolved = resolveTool(paths, name);
  const plan = planOf(resolved);
  let argv = plan.argv;
  if (plan.build) argv = [(await ensureBuilt(paths, plan.build)).output];
  refreshShims(paths, resolved, argv);
  rememberPlan(paths, name, plan, resolved.guards);
  return { plan, argv, resolved };
}
