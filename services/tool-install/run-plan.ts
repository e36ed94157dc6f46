import type { BuildSpec } from './build-cache.js';

/**
 * How to run a resolved tool: plain data, cached in $FLOW_HOME/cli/cache/run.json so that
 * `f cli <id>` can exec without loading zod, TOML or the resolver when nothing has changed.
 */
export interface RunPlan {
  id: string;
  kind: 'link' | 'remote' | 'dev';
  /** exec.run; for a tool with exec.build, replaced by the built program at run time. */
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  build: BuildSpec | null;
}
