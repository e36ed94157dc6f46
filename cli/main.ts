#!/usr/bin/env node
import { Command, CommanderError } from 'commander';

/**
 * `f`: each command group lives in its own module and is loaded only when its name is the first
 * argument, so `f cli <tool>` never loads the actor runtime, Fastify or the queue clients.
 */
type Group = () => Promise<{ register(program: Command): void }>;

// One loader for the four opencode groups, so `f --help` registers them once.
const opencodeCommands: Group = () => import('./commands/opencode.js');

const groups: Record<string, Group> = {
  up: () => import('./commands/up.js'),
  auth: () => import('./commands/auth.js'),
  backend: () => import('./commands/backend.js'),
  events: () => import('./commands/events.js'),
  tunnel: () => import('./commands/tunnel.js'),
  relay: () => import('./commands/relay.js'),
  instance: opencodeCommands,
  session: opencodeCommands,
  chat: opencodeCommands,
  attention: opencodeCommands,
  install: () => import('./commands/tools.js'),
  cli: () => import('./commands/tools.js'),
  catalog: () => import('./commands/tools.js'),
  ai: () => import('./commands/tools.js'),
};

export function registerGroupName(name: string, load: Group): void {
  groups[name] = load;
}

async function main(argv: string[]): Promise<void> {
  const program = new Command('f')
    .description('Flow: a local control plane for your tools, agents, backends and tunnels')
    .version('0.1.0')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  const first = argv.find((a) => !a.startsWith('-'));
  const wanted = first && groups[first] ? [groups[first]] : Object.values(groups);
  for (const load of new Set(wanted)) (await load()).register(program);
  await program.parseAsync(argv, { from: 'user' });
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode;
    return;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`f: ${message}\n`);
  process.exitCode = process.exitCode && process.exitCode !== 0 ? process.exitCode : 1;
});
