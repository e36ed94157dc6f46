import type { Command, CommandResult } from '../host/commands.js';

/**
 * Where the gateway sends commands. Embedded: straight to the host in this process.
 * Distributed: a BullMQ job on `flow-commands[.<hostId>]`, its result coming back as the job's.
 */
export interface CommandQueue {
  submit(command: Command, meta?: { by?: string; correlationId?: string }): Promise<CommandResult>;
  close(): Promise<void>;
}
