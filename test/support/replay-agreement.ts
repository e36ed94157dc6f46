import { expect } from 'vitest';
import { createActor, SimulatedClock, type AnyStateMachine } from 'xstate';
import { fold } from '../../actors/fold.js';
import type { ActorKind, AnyKind } from '../../actors/kind.js';
import { SimulatedHost } from './given.js';

/** What a replay property's script does: events as the host takes them, and time passing. */
export interface ReplayDriver {
  readonly sim: SimulatedHost;
  send(type: string, data: Record<string, unknown>): void;
  wait(ms: number): void;
}

/**
 * DESIGN.md's replay invariant for one history: XState's own live actor on a simulated clock,
 * the host's state (the simulated host, which judges requests as the host does) and the fold of
 * the log it wrote agree. A refused request is not in the log, so the live actor never sees it.
 */
export function expectReplayAgreement(kind: AnyKind, machine: AnyStateMachine, script: (d: ReplayDriver) => void): void {
  const start = 1_700_000_000_000;
  const clock = new SimulatedClock();
  clock.set(start);
  const live = createActor(machine, { clock }).start();
  const sim = new SimulatedHost(kind, start);
  const advanceBoth = (ms: number) => {
    clock.increment(ms);
    sim.advance(ms);
  };
  script({
    sim,
    send(type, data) {
      sim.send(type, data);
      if (!sim.refusal) live.send({ ...sim.log.at(-1)!.data, type, at: sim.now } as never);
    },
    // Timer by timer, so that a timer armed by another's firing is due from that moment on both sides.
    wait(ms) {
      let left = ms;
      for (;;) {
        const next = Math.min(...sim.pendingTimers().map((t) => t.inMs));
        if (!(next <= left)) break;
        advanceBoth(next);
        left -= next;
      }
      advanceBoth(left);
    },
  });
  const liveSnap = live.getSnapshot();
  live.stop();
  const folded = fold(kind as unknown as ActorKind, sim.log);
  expect(folded.value).toEqual(liveSnap.value);
  expect(folded.context).toEqual(liveSnap.context);
  expect(sim.snapshot.value).toEqual(liveSnap.value);
}
