import { defineKind } from '../kind.js';
import { toolInstallCommands } from './commands.js';
import { toolInstallEvents } from './events.js';
import { registerRefusal, toolInstallMachine, toolInstallStatus, type ToolInstallSnapshot } from './machine.js';
import type { z } from 'zod';

export * from './events.js';
export * from './commands.js';
export * from './machine.js';

export const toolInstallKind = defineKind({
  streamType: 'tool-install',
  machine: toolInstallMachine,
  events: toolInstallEvents,
  commands: toolInstallCommands,
  // 2: REGISTER_REQUESTED decides (was: the machine only followed what install.ts decided).
  version: 2,
  effects: ['installFiles'] as const,
  status: toolInstallStatus,
  // An install or an uninstall is taken in any state; a registration is judged (machine.ts).
  describe: (snapshot: ToolInstallSnapshot, request, data) =>
    (request === 'REGISTER_REQUESTED' && data ? registerRefusal(snapshot.context, snapshot.matches('installing'), data as z.infer<typeof toolInstallEvents.REGISTER_REQUESTED>) : null) ?? `${request} is taken in any state`,
});
