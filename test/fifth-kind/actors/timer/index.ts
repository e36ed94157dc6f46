import { defineKind } from '../../../../actors/kind.js';
import { timerCommands } from './commands.js';
import { timerEvents } from './events.js';
import { timerMachine } from './machine.js';

export const timerKind = defineKind({
  streamType: 'timer',
  machine: timerMachine,
  events: timerEvents,
  commands: timerCommands,
  effects: ['ring'] as const,
  status: (snapshot) => snapshot.value as string,
  describe: (snapshot, request) =>
    request === 'CANCEL_REQUESTED' ? `${snapshot.context.name} has ${snapshot.value === 'cancelled' ? 'already been cancelled' : 'already rung'}` : `${snapshot.context.name} is already ${String(snapshot.value)}`,
});
