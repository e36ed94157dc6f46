import { defineKind } from '../kind.js';
import { supervisedRefusal } from '../lifecycle.js';
import { instanceCommands } from './commands.js';
import { instanceEvents } from './events.js';
import { instanceState, opencodeInstanceMachine } from './machine.js';

export * from './events.js';
export * from './commands.js';
export * from './machine.js';

export const opencodeInstanceKind = defineKind({
  streamType: 'opencode-instance',
  machine: opencodeInstanceMachine,
  events: instanceEvents,
  commands: instanceCommands,
  effects: ['spawnProcess', 'stopProcess', 'killProcess', 'checkHealth'] as const,
  // 2: health checks, automatic restarts, interrupted by the host's going away.
  version: 2,
  status: instanceState,
  describe: (snapshot, request) => supervisedRefusal('instance', snapshot.context.id, instanceState(snapshot), request),
});
