import { ToolError } from './errors.js';
import { cachedPlan } from './run-cache.js';
import { toolPaths, type ToolPaths } from './paths.js';
import type { RunPlan } from './run-plan.js';
import { execTool, exitLikeTool } from './runner.js';
import { describeBadToolId, isToolId } from './tool-id.js';

/**
 * `f cli <id> -- args`: the fast path. Only node: built-ins and small zod-free modules are loaded
 * here; the resolver (TOML, zod, dev-root scan, builds) is imported only when the run cache has
 * no still-valid plan for `name`.
 */
export async function runTool(name: string, args: readonly string[], paths: ToolPaths = toolPaths()): Promise<void> {
  if (!isToolId(name)) throw new ToolError(describeBadToolId(name));
  let plan: RunPlan | null = cachedPlan(paths, name);
  let argv: string[] | null = null;
  if (plan) argv = plan.build ? withBuilt(plan, (await import('./build-cache.js')).lookupBuilt(paths, plan.build)) : plan.argv;
  if (!plan || !argv) {
    const { prepareRun } = await import('./prepare-run.js');
    ({ plan, argv } = await prepareRun(paths, name));
  }
  const exit = await execTool(plan.id, argv, plan.cwd, plan.env, args);
  await exitLikeTool(exit);
}

function withBuilt(_plan: RunPlan, built: string | null): string[] | null {
  return built ? [built] : null;
}
