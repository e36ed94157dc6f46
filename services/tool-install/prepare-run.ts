import { ensureBuilt } from './build-cache.js';
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

/** The slow path of `f cli`: full resolution, a build if one is due, then a cached plan. */
export async function prepareRun(paths: ToolPaths, name: string): Promise<{ plan: RunPlan; argv: string[]; resolved: ResolvedTool }> {
  const resolved = resolveTool(paths, name);
  const plan = planOf(resolved);
  let argv = plan.argv;
  if (plan.build) argv = [(await ensureBuilt(paths, plan.build)).output];
  refreshShims(paths, resolved, argv);
  rememberPlan(paths, name, plan, resolved.guards);
  return { plan, argv, resolved };
}
