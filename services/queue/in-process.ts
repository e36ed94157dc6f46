import { CommandSchema, type Command } from '../../actors/index.js';
import { commandError, type CommandMeta, type CommandResult } from '../host/commands.js';
import type { CommandQueue, SubmitOptions } from './types.js';

export interface CommandHandler {
  readonly hostId: string;
  dispatch(command: Command, meta?: CommandMeta): Promise<CommandResult>;
}

export function invalidCommand(issues: readonly { path: readonly PropertyKey[]; message: string }[]): CommandResult {
  return commandError('invalid', issues.map((i) => `${i.path.map(String).join('.') || 'command'}: ${i.message}`).join('; '));
}

/** The embedded mode's queue: validates, then hands the command to the host in this process. */
export class InProcessCommandQueue implements CommandQueue {
  private closed = false;
  constructor(private readonly handler: CommandHandler) {}

  async submit(command: Command, opts: SubmitOptions = {}): Promise<CommandResult> {
    if (this.closed) return commandError('unavailable', 'Flow is shutting down; try again when it is back');
    const parsed = CommandSchema.safeParse(command);
    if (!parsed.success) return invalidCommand(parsed.error.issues);
    const { host, ...meta } = opts;
    if (host !== undefined && host !== this.handler.hostId) {
      return commandError('invalid', `this Flow runs one host (${this.handler.hostId}); there is no host ${host} (hosts come with distributed mode: f host --id ${host})`);
    }
    return this.handler.dispatch(parsed.data, meta);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
