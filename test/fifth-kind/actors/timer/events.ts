import { z } from 'zod';
import { actorNameSchema, TimerFiredSchema, type MachineEvents } from '../../../../actors/kind.js';

export const TimerNameSchema = actorNameSchema('a timer name');

export const timerEvents = {
  SET: z.object({ name: TimerNameSchema, ms: z.number().int().min(1).max(60_000) }),
  CANCEL_REQUESTED: z.object({}),
  /** The world's report that the bell was rung. */
  RANG: z.object({}),
  TIMER_FIRED: TimerFiredSchema,
} as const;

export type TimerEvent = MachineEvents<typeof timerEvents> | { type: 'DUE' };
