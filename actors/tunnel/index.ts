import { defineKind } from '../kind.js';
import { supervisedRefusal } from '../lifecycle.js';
import { tunnelCommands } from './commands.js';
import { tunnelEvents } from './events.js';
import { tunnelMachine, tunnelStatus } from './machine.js';

export * from './events.js';
export * from './commands.js';
export * from './machine.js';

export const tunnelKind = defineKind({
  streamType: 'tunnel',
  machine: tunnelMachine,
  events: tunnelEvents,
  commands: tunnelCommands,
  effects: ['spawnTunnel', 'killTunnel', 'checkHealth', 'relayAnnounce', 'relayHeartbeat', 'relayDisconnect'] as const,
  status: tunnelStatus,
  describe: (snapshot, request) => supervisedRefusal('tunnel', snapshot.context.name, tunnelStatus(snapshot), request),
});
