import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * Where tool-install state lives, as seed 001 lays it out:
 * $FLOW_HOME/cli/{links/<id>.toml, installs/<install_id>/, index.json}, plus Flow's own caches.
 */
export interface ToolPaths {
  home: string;
  cli: string;
  links: string;
  installs: string;
  index: string;
  /** Optional settings (dev roots): $FLOW_HOME/cli/config.toml. */
  config: string;
  /** Everything here can be deleted at any time. */
  cache: string;
  runCache: string;
  buildCache: string;
  /** Work area on the same file system as installs/, so finished work moves in with one rename. */
  tmp: string;
  lock: string;
  bin: string;
  catalog: string;
  db: string;
}

export const FLOW_VERSION = '0.1.0';

/**
 * FLOW_HOME, default ~/.config/flow. The same rule as infra/config.ts's flowHome, repeated here
 * because that module loads zod, which `f cli <id>` must not pay for.
 */
export function toolHome(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.FLOW_HOME || join(homedir(), '.config', 'flow'));
}

export function toolPaths(home: string = toolHome()): ToolPaths {
  const cli = join(home, 'cli');
  const cache = join(cli, 'cache');
  return {
    home,
    cli,
    links: join(cli, 'links'),
    installs: join(cli, 'installs'),
    index: join(cli, 'index.json'),
    config: join(cli, 'config.toml'),
    cache,
    runCache: join(cache, 'run.json'),
    buildCache: join(cache, 'build'),
    tmp: join(cli, 'tmp'),
    lock: join(cli, '.lock'),
    bin: join(home, 'bin'),
    catalog: join(home, 'catalog'),
    db: join(home, 'flow.db'),
  };
}

export function linkRecordPath(paths: ToolPaths, id: string): string {
  return join(paths.links, `${id}.toml`);
}

export function installDir(paths: ToolPaths, installId: string): string {
  return join(paths.installs, installId);
}
