import { CommandSchema, commandError, type Command, type CommandResult } from '../host/commands.js';
import type { CommandQueue } from './types.js';

export interface CommandHandler {
  dispatch(command: Command, meta?: { by?: string; correlationId?: string }): Promise<CommandResult>;
}

/** The embedded mode's queue: validates, then hands the command to the host in this process. */
export class InProcessCommandQueue implements CommandQueue {
  private closed = false;
  constructor(private readonly handler: CommandHandler) {}

  async submit(command: Command, meta?: { by?: string; correlationId?: string }): Promise<CommandResult> {
    if (this.closed) return commandError('unavailable', 'Flow is shutting down; try again when it is back');
    const parsed = CommandSchema.safeParse(command);
    if (!parsed.success) return commandError('invalid', parsed.error.issues.map((i) => `${i.path.join('.') || 'command'}: ${i.message}`).join('; '));
    return this.handler.dispatch(parsed.data, meta);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
