import { assertEvent, assign, setup, type SnapshotFrom } from 'xstate';
import type { TimerEvent } from './events.js';

export interface TimerContext {
  name: string;
  ms: number;
  rangAt: number | null;
}

/** A kitchen timer: set it, it rings once after `ms` (a durable timer of the host), unless cancelled first. */
export const timerMachine = setup({
  types: { context: {} as TimerContext, events: {} as TimerEvent },
  delays: { duration: ({ context }) => context.ms },
  actions: {
    ring: () => {},
    configure: assign(({ event }) => {
      assertEvent(event, 'SET');
      return { name: event.name, ms: event.ms, rangAt: null };
    }),
    recordRing: assign(({ event }) => {
      assertEvent(event, 'RANG');
      return { rangAt: event.at };
    }),
  },
}).createMachine({
  id: 'timer',
  initial: 'new',
  context: { name: '', ms: 0, rangAt: null },
  states: {
    new: { on: { SET: { target: 'waiting', actions: 'configure' } } },
    waiting: {
      after: { duration: 'ringing' },
      on: { CANCEL_REQUESTED: 'cancelled' },
    },
    ringing: { entry: 'ring', on: { RANG: { target: 'rang', actions: 'recordRing' } } },
    rang: { on: { SET: { target: 'waiting', actions: 'configure' } } },
    cancelled: { on: { SET: { target: 'waiting', actions: 'configure' } } },
  },
});

export type TimerSnapshot = SnapshotFrom<typeof timerMachine>;
