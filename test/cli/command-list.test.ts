import { Command, Help } from 'commander';
import { describe, expect, it } from 'vitest';
import { commandAsked, commandLoaders, listCommands } from '../../cli/command-list.js';
import { commandSummaries, type CommandName } from '../../cli/command-summaries.js';

/**
 * `f --help` lists the commands from cli/command-summaries.ts without loading their modules; the
 * list must say what the modules register, so the help is the same either way.
 */
const root = () => new Command('f').description('Flow').version('0.1.0');

async function withEveryGroup(): Promise<Command> {
  const program = root();
  const loaded = new Set<unknown>();
  for (const load of Object.values(commandLoaders)) {
    const group = await load();
    if (loaded.has(group)) continue;
    loaded.add(group);
    group.register(program);
  }
  return program;
}

describe('the list of top-level commands', () => {
  it('given every group module registered, then the commands are the list, in its order', async () => {
    const program = await withEveryGroup();
    expect(program.commands.map((c) => c.name())).toEqual(Object.keys(commandSummaries));
  });

  it("given every group module registered, then each command's summary and help term are the list's", async () => {
    const help = new Help();
    for (const cmd of (await withEveryGroup()).commands) {
      const entry = commandSummaries[cmd.name() as CommandName];
      expect({ name: cmd.name(), term: help.subcommandTerm(cmd), summary: cmd.description() }).toEqual({ name: cmd.name(), term: entry.term, summary: entry.summary });
    }
  });

  it('when f --help lists the commands without their modules, then it prints what it prints with all of them', async () => {
    const listed = root();
    listCommands(listed, new Help());
    expect(listed.helpInformation()).toBe((await withEveryGroup()).helpInformation());
  });

  it.each([
    [['backend', 'ls'], 'backend'],
    [['--help'], undefined],
    [['help', 'events'], 'events'],
    [['-h', 'tunnel', 'ls'], 'tunnel'],
    [['help'], undefined],
    [['bakend', 'ls'], undefined],
    [['constructor'], undefined],
    [['__proto__'], undefined],
  ] as [string[], string | undefined][])('f %j asks for the %s group', (argv, group) => {
    expect(commandAsked(argv)).toBe(group);
  });
});
