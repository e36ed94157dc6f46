#!/usr/bin/env node
import type { Command } from 'commander';

/**
 * `f`: each command group lives in its own module and is loaded only when its name is the first
 * argument, so `f cli <tool>` never loads the actor runtime, Fastify or the queue clients; it
 * does not even load commander (its own ~20 ms matter when Node's start-up is the floor).
 */
type Group = () => Promise<{ register(program: Command): void }>;

// One loader for the four opencode groups, so `f --help` registers them once.
const opencodeCommands: Group = () => import('./commands/opencode.js');
const toolCommands: Group = () => import('./commands/tools.js');
const distributedCommands: Group = () => import('./commands/distributed.js');
const daemonCommands: Group = () => import('./commands/daemon.js');

const groups: Record<string, Group> = {
  up: () => import('./commands/up.js'),
  host: distributedCommands,
  gateway: distributedCommands,
  auth: () => import('./commands/auth.js'),
  backend: () => import('./commands/backend.js'),
  logs: () => import('./commands/logs.js'),
  events: () => import('./commands/events.js'),
  tunnel: () => import('./commands/tunnel.js'),
  relay: () => import('./commands/relay.js'),
  instance: opencodeCommands,
  session: opencodeCommands,
  chat: opencodeCommands,
  attention: opencodeCommands,
  install: toolCommands,
  cli: toolCommands,
  catalog: toolCommands,
  ai: toolCommands,
  apply: () => import('./commands/apply.js'),
  status: daemonCommands,
  down: daemonCommands,
  service: () => import('./commands/service.js'),
};

async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'cli' && (await (await import('./commands/tools.js')).runFromArgv(argv))) return;
  const first = argv.find((a) => !a.startsWith('-'));
  const wanted = [...new Set(first && groups[first] ? [groups[first]] : Object.values(groups))];
  // commander and the groups load side by side: each import is a round trip through the loader.
  const [{ Command }, ...modules] = await Promise.all([import('commander'), ...wanted.map((load) => load())]);
  const program = new Command('f')
    .description('Flow: a local control plane for your tools, agents, backends and tunnels')
    .version('0.1.0')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  for (const m of modules) m.register(program);
  await program.parseAsync(argv, { from: 'user' });
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if ((err as { code?: string }).code?.startsWith('commander.')) {
    process.exitCode = (err as { exitCode?: number }).exitCode ?? 1;
    return;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`f: ${message}\n`);
  process.exitCode = process.exitCode && process.exitCode !== 0 ? process.exitCode : 1;
});
