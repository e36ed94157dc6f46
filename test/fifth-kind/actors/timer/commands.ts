import { z } from 'zod';
import { defineCommands } from '../../../../actors/kind.js';
import { TimerNameSchema } from './events.js';

const schemas = [
  z.object({ type: z.literal('timer.set'), name: TimerNameSchema, ms: z.number().int().min(1).max(60_000) }),
  z.object({ type: z.literal('timer.cancel'), name: TimerNameSchema }),
] as const;
export type TimerCommand = z.output<(typeof schemas)[number]>;

export const timerCommands = defineCommands({
  schemas,
  toEvent: (c: TimerCommand) =>
    c.type === 'timer.set'
      ? { streamId: `timer:${c.name}`, type: 'SET', data: { name: c.name, ms: c.ms }, creates: true }
      : { streamId: `timer:${c.name}`, type: 'CANCEL_REQUESTED', data: {}, creates: false },
  requests: ['SET', 'CANCEL_REQUESTED'],
});
