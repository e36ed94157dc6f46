import { z } from 'zod';
import { defineCommands } from '../kind.js';
import { commandWordsSchema, EnvInputSchema } from '../process-words.js';
import { BackendConfigSchema, BackendNameSchema, type backendEvents } from './events.js';

export function backendStreamId(name: string): string {
  return `backend-child:${name}`;
}

/** A config Flow can run: the event's schema, with the command and env checked as execve needs them. */
const RunnableConfigSchema = BackendConfigSchema.extend({
  command: commandWordsSchema('a backend needs a command to run'),
  env: EnvInputSchema.default({}),
});

/** Config as a client sends it: paths and defaults are filled in before it becomes an event. */
export const BackendConfigInputSchema = RunnableConfigSchema.extend({ cwd: z.string().min(1).optional() });

const schemas = [
  z.object({ type: z.literal('backend.create'), name: BackendNameSchema, config: RunnableConfigSchema, autostart: z.boolean().default(true) }),
  z.object({ type: z.literal('backend.start'), name: BackendNameSchema }),
  z.object({ type: z.literal('backend.stop'), name: BackendNameSchema }),
  z.object({ type: z.literal('backend.restart'), name: BackendNameSchema }),
  z.object({ type: z.literal('backend.remove'), name: BackendNameSchema }),
] as const;

/** Commands a client may send about a backend; each maps to one event of the stream. */
export const BackendCommandSchema = z.discriminatedUnion('type', schemas);
export type BackendCommand = z.infer<typeof BackendCommandSchema>;

export const backendCommandEvent = {
  'backend.create': 'CREATED',
  'backend.start': 'START_REQUESTED',
  'backend.stop': 'STOP_REQUESTED',
  'backend.restart': 'RESTART_REQUESTED',
  'backend.remove': 'REMOVE_REQUESTED',
} as const satisfies Record<BackendCommand['type'], keyof typeof backendEvents>;

export function toEvent(c: BackendCommand) {
  const data = c.type === 'backend.create' ? { name: c.name, config: c.config, autostart: c.autostart } : {};
  return { streamId: backendStreamId(c.name), type: backendCommandEvent[c.type], data, creates: c.type === 'backend.create' };
}

export const backendCommands = defineCommands({ schemas, toEvent, requests: Object.values(backendCommandEvent) });
