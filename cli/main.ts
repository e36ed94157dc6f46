#!/usr/bin/env node
import { createRequire } from 'node:module';
import type * as Commander from 'commander';
import { commandAsked, commandLoaders, listCommands } from './command-list.js';

/**
 * `f`: each command group lives in its own module, loaded only when its name is the first
 * argument, so `f cli <tool>` never loads the actor runtime, Fastify or the queue clients (it
 * does not even load commander), and `f --help` lists the commands without loading any group.
 */

// require, not import: an ESM import of commander goes through its ESM wrapper and Node's
// export-name lexer for CommonJS, a few ms of a short command (bench/cli-overhead.ts).
const loadCommander = () => createRequire(import.meta.url)('commander') as typeof Commander;

async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'cli' && (await (await import('./commands/tools.js')).runFromArgv(argv))) return;
  const asked = commandAsked(argv);
  // The group's modules are read while commander compiles.
  const loading = asked ? commandLoaders[asked]() : undefined;
  const { Command, Help } = loadCommander();
  const group = await loading;
  const program = new Command('f')
    .description('Flow: a local control plane for your tools, agents, backends and tunnels')
    .version('0.1.0')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  if (group) group.register(program);
  else listCommands(program, new Help());
  await program.parseAsync(argv, { from: 'user' });
}

interface Issue {
  path: PropertyKey[];
  message: string;
}

/**
 * What went wrong, in words: a zod error's message is its issues as JSON, so it is told as
 * "field: message" lines instead (zod itself is not loaded for this).
 */
function describe(err: unknown): string {
  const issues = (err as { name?: string; issues?: Issue[] } | null)?.issues;
  if (err instanceof Error && err.name === 'ZodError' && Array.isArray(issues)) {
    return issues.map((i) => (i.path.length ? `${i.path.map(String).join('.')}: ${i.message}` : i.message)).join('\n   ');
  }
  return err instanceof Error ? err.message : String(err);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if ((err as { code?: string }).code?.startsWith('commander.')) {
    process.exitCode = (err as { exitCode?: number }).exitCode ?? 1;
    return;
  }
  process.stderr.write(`f: ${describe(err)}\n`);
  process.exitCode = process.exitCode && process.exitCode !== 0 ? process.exitCode : 1;
});
