import type { Command } from '../../actors/index.js';
import type { CommandMeta, CommandResult } from '../host/commands.js';

/** Where a command may run: `host` places a new actor on that host (distributed mode). */
export interface SubmitOptions extends Omit<CommandMeta, 'causationId'> {
  host?: string;
}

/** What became of a command that went through a queue, for `GET /api/commands/:id`. */
export interface CommandStatus {
  id: string;
  queue: string;
  state: 'waiting' | 'delayed' | 'active' | 'completed' | 'failed' | 'unknown';
  attempts: number;
  result?: CommandResult;
  failedReason?: string;
}

/**
 * Where the gateway sends commands. Embedded: straight to the host in this process.
 * Distributed: a BullMQ job on `flow-commands[.<hostId>]`, its result coming back as the job's.
 */
export interface CommandQueue {
  submit(command: Command, opts?: SubmitOptions): Promise<CommandResult>;
  /** Queues that keep jobs can say what became of one; in-process commands finish before the API answers. */
  status?(id: string): Promise<CommandStatus | undefined>;
  close(): Promise<void>;
}
