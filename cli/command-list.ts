import type { Command, Help } from 'commander';
import { commandSummaries, isCommandName, type CommandName } from './command-summaries.js';

/**
 * Every top-level command of `f` and the module that registers it. Only the module of the
 * command asked for is loaded; `f --help` lists the commands from their summaries and loads none.
 */
export interface CommandGroup {
  register(program: Command): void;
}
type Load = () => Promise<CommandGroup>;

// One loader per module that serves several commands, so loading them all registers each once.
const opencodeCommands: Load = () => import('./commands/opencode.js');
const toolsCommands: Load = () => import('./commands/tools.js');
const distributedCommands: Load = () => import('./commands/distributed.js');
const daemonCommands: Load = () => import('./commands/daemon.js');

export const commandLoaders: Record<CommandName, Load> = {
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
  install: toolsCommands,
  cli: toolsCommands,
  catalog: toolsCommands,
  ai: toolsCommands,
  apply: () => import('./commands/apply.js'),
  status: daemonCommands,
  down: daemonCommands,
  service: () => import('./commands/service.js'),
};

/** The command an argv asks for: its first word, or the word after `help` (`f help backend`). */
export function commandAsked(argv: readonly string[]): CommandName | undefined {
  const words = argv.filter((a) => !a.startsWith('-'));
  const name = words[0] === 'help' ? words[1] : words[0];
  return isCommandName(name) ? name : undefined;
}

/** The root help's list of commands, as the modules would register them, without loading one. */
export function listCommands(program: Command, help: Help): void {
  for (const [name, { summary }] of Object.entries(commandSummaries)) program.command(name).description(summary);
  program.configureHelp({
    subcommandTerm: (cmd) => {
      const name = cmd.name();
      return isCommandName(name) ? commandSummaries[name].term : help.subcommandTerm(cmd);
    },
  });
}
