import { defineKind } from '../kind.js';
import { supervisedRefusal } from '../lifecycle.js';
import { instanceCommands } from './commands.js';
import { instanceEvents } from './events.js';
import { instanceState, opencodeInstanceMachine } from './machine.js';
import { isSessionCall, sessionCallRefusal } from './session-calls.js';

export * from './events.js';
export * from './commands.js';
export * from './machine.js';
export * from './session-calls.js';

export const opencodeInstanceKind = defineKind({
  streamType: 'opencode-instance',
  machine: opencodeInstanceMachine,
  events: instanceEvents,
  commands: instanceCommands,
  effects: ['spawnProcess', 'stopProcess', 'killProcess', 'checkHealth', 'callOpencode'] as const,
  // 2: health checks, automatic restarts, interrupted by the host's going away.
  // 3: session calls (the *_REQUESTED session events, the guard sessionCallApplies, the effect callOpencode).
  version: 3,
  status: instanceState,
  describe: (snapshot, request) =>
    isSessionCall(request) ? sessionCallRefusal(snapshot.context.id, instanceState(snapshot), snapshot.context.lastError) : supervisedRefusal('instance', snapshot.context.id, instanceState(snapshot), request),
});
