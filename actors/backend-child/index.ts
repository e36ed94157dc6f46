import { defineKind } from '../kind.js';
import { supervisedRefusal } from '../lifecycle.js';
import { backendCommands } from './commands.js';
import { backendEvents } from './events.js';
import { backendChildMachine, backendLifeState } from './machine.js';

export * from './events.js';
export * from './commands.js';
export * from './machine.js';

export const backendChildKind = defineKind({
  streamType: 'backend-child',
  machine: backendChildMachine,
  events: backendEvents,
  commands: backendCommands,
  effects: ['spawnProcess', 'killProcess'] as const,
  status: backendLifeState,
  describe: (snapshot, request) => supervisedRefusal('backend', snapshot.context.name, backendLifeState(snapshot), request),
});
