import { defineKind } from '../kind.js';
import { toolInstallCommands } from './commands.js';
import { toolInstallEvents } from './events.js';
import { toolInstallMachine, toolInstallStatus } from './machine.js';

export * from './events.js';
export * from './commands.js';
export * from './machine.js';

export const toolInstallKind = defineKind({
  streamType: 'tool-install',
  machine: toolInstallMachine,
  events: toolInstallEvents,
  commands: toolInstallCommands,
  effects: [] as const,
  status: toolInstallStatus,
  // The machine takes a new request or an uninstall in any state (the files are the truth).
  describe: (_snapshot, request) => `${request} is taken in any state`,
});
