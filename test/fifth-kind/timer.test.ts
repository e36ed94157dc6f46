import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InProcessLiveBus } from '../../services/bus/in-process.js';
import { ActorHost } from '../../services/host/actor-host.js';
import { EventStore } from '../../services/store/event-store.js';
import { ActorProjector } from '../../services/store/projections.js';
import { given } from '../support/given.js';
import { tempDir } from '../support/tmp.js';
import { timerKind } from './actors/timer/index.js';
import { testKindFor } from './kinds.js';
import { timerServices } from './services/timer/index.js';

/**
 * A fifth kind added the way README › Architecture says, and nothing else: its folder
 * (actors/timer), its services (services/timer), one line in a kinds list (kinds.ts).
 * Driven through the real ActorHost and a real SQLite log.
 */
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  for (let waited = 0; !ok(); waited += 10) {
    if (waited > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function openStore(dir: string) {
  const store = EventStore.open(join(dir, 'flow.db'), { host: 'test', projectors: [new ActorProjector(testKindFor)], pollMs: 0 });
  cleanups.push(() => store.close());
  return store;
}

async function startHost(store: EventStore, bell: string[]) {
  const host = await ActorHost.start({ store, live: new InProcessLiveBus(), services: [timerServices(bell)], log: () => {} });
  cleanups.push(() => host.stop());
  return host;
}

describe('a fifth kind, added through the recipe only', () => {
  it('given a timer set for 30 ms, when the time passes, then the host rings it once and records it; a cancel after that is the host\'s refusal', async () => {
    const t = tempDir('flow-fifth-kind-');
    cleanups.push(t.cleanup);
    const store = openStore(t.dir);
    const bell: string[] = [];
    const host = await startHost(store, bell);

    const set = await host.dispatch({ type: 'timer.set', name: 'kitchen', ms: 30 });
    expect(set).toMatchObject({ ok: true, streamId: 'timer:kitchen', status: 'waiting' });
    await until('the ring', () => host.snapshotOf('timer:kitchen')?.snapshot.value === 'rang');
    expect(bell).toEqual(['kitchen']);
    expect(store.readStream('timer:kitchen').map((e) => e.type)).toEqual(['SET', 'TIMER_FIRED', 'RANG']);
    expect(store.actor('timer:kitchen')).toMatchObject({ streamType: 'timer', version: 3 });

    expect(await host.dispatch({ type: 'timer.cancel', name: 'kitchen' })).toEqual({ ok: false, error: { code: 'invalid_state', message: 'kitchen has already rung' } });
    expect(await host.dispatch({ type: 'timer.cancel', name: 'pantry' })).toMatchObject({ ok: false, error: { code: 'not_found' } });
    expect(store.readStream('timer:kitchen')).toHaveLength(3);
  });

  it('given a timer pending when the host stops, when a new host starts on the same log, then it rings (a durable timer)', async () => {
    const t = tempDir('flow-fifth-kind-');
    cleanups.push(t.cleanup);
    const store = openStore(t.dir);
    const bell: string[] = [];
    const first = await startHost(store, bell);
    await first.dispatch({ type: 'timer.set', name: 'oven', ms: 150 });
    await first.stop();
    const second = await startHost(store, bell);
    await until('the ring after restart', () => second.snapshotOf('timer:oven')?.snapshot.value === 'rang');
    expect(bell).toEqual(['oven']);
  });

  it('reads as a spec on the simulated host too: set, cancel, and a second cancel refused', () => {
    given(timerKind, [{ type: 'timer.set', name: 'tea', ms: 1000 }])
      .when({ type: 'timer.cancel', name: 'tea' })
      .then({ state: 'cancelled', effects: [] });
    given(timerKind, [{ type: 'timer.set', name: 'tea', ms: 1000 }]).after(1000).when({ type: 'RANG' }).then({ state: 'rang' });
    given(timerKind, [{ type: 'timer.set', name: 'tea', ms: 1000 }, { type: 'timer.cancel', name: 'tea' }])
      .when({ type: 'timer.cancel', name: 'tea' })
      .thenRejected('tea has already been cancelled');
  });
});
