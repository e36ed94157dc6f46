import fc from 'fast-check';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fold, initialSnapshot, toStored } from '../../actors/fold.js';
import { InProcessLiveBus } from '../../services/bus/in-process.js';
import { ActorHost } from '../../services/host/actor-host.js';
import type { KindServices } from '../../services/host/effects.js';
import { machineVersion } from '../../services/store/machine-version.js';
import type { EventStore } from '../../services/store/types.js';
import { backendKind, backendLog, countingStore, historyStepArb, openTestStore, writeLogs } from '../support/history.js';
import type { RecordedEvent as SimEvent } from '../../actors/fold.js';
import { tempDir } from '../support/tmp.js';

/**
 * DESIGN.md › Actors: recovery starts from the snapshot. The host starts each actor from its
 * projection row and folds only the events after it; a snapshot of another machine version is
 * not trusted. The full fold is the judge: whatever the rows say, the host must come up with
 * what folding each stream from its first event gives.
 */

// The machine's kind with no effects: recovery alone (no processes, no reconcile) is under test.
const bare: KindServices = { kind: backendKind, effects: {} };

async function restartHost(store: EventStore): Promise<ActorHost> {
  return ActorHost.start({ store, live: new InProcessLiveBus(), services: [bare], log: () => {}, orphanGraceMs: 10 });
}

function expectFullFold(host: ActorHost, store: EventStore, streamIds: readonly string[]): void {
  for (const id of streamIds) {
    const full = fold(backendKind, store.readStream(id));
    const got = host.snapshotOf(id);
    expect(got, id).toBeDefined();
    expect(toStored(got!.snapshot), id).toEqual(toStored(full));
    expect(got!.version, id).toBe(store.streamVersion(id));
    // And the projection the host leaves behind is that fold, by this machine.
    const row = store.actor(id)!;
    expect(row.snapshot, id).toEqual(toStored(full));
    expect(row.machine, id).toBe(machineVersion(backendKind));
  }
}

type Tamper = 'none' | 'older machine' | 'behind the log' | 'no row';

describe('recovery from snapshots', () => {
  it('given random histories and rows stamped by an older machine, behind the log or missing, when a host restarts over the log, then every actor is the full fold', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ steps: fc.array(historyStepArb, { maxLength: 40 }), tail: fc.array(historyStepArb, { maxLength: 10 }), tamper: fc.constantFrom<Tamper>('none', 'older machine', 'behind the log', 'no row') }), { minLength: 1, maxLength: 4 }),
        async (actors) => {
          const { dir, cleanup } = tempDir('flow-recover-');
          const path = join(dir, 'flow.db');
          try {
            const logs = new Map<string, SimEvent[]>();
            actors.forEach((a, i) => logs.set(`backend-child:b${i}`, backendLog(`b${i}`, [...a.steps, ...a.tail])));
            const ids = [...logs.keys()];
            let store = openTestStore(path);
            writeLogs(store, logs);
            actors.forEach((a, i) => {
              const id = ids[i]!;
              if (a.tamper === 'older machine') {
                // A snapshot the old machine folded, which this machine would not have: never trusted.
                store.db.prepare(`UPDATE actor_state SET machine = 'older-machine', snapshot = ? WHERE stream_id = ?`).run(JSON.stringify(toStored(initialSnapshot(backendKind))), id);
              } else if (a.tamper === 'no row') {
                store.db.prepare(`DELETE FROM actor_state WHERE stream_id = ?`).run(id);
              }
            });
            store.close();
            // Events the projection has not seen (a writer without the actor projector): folded on top of the row.
            const behind = new Map(actors.flatMap((a, i) => (a.tamper === 'behind the log' ? [[ids[i]!, backendLog(`b${i}`, a.tail, 1_700_010_000_000)] as const] : [])));
            if (behind.size > 0) {
              const raw = openTestStore(path, false);
              writeLogs(raw, behind);
              raw.close();
            }
            store = openTestStore(path);
            const host = await restartHost(store);
            try {
              expectFullFold(host, store, ids);
            } finally {
              await host.stop();
              store.close();
            }
          } finally {
            cleanup();
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('given a log of thousands of events, when a host restarts over it, then it recovers the full fold of each stream and reads O(actors) rows, however long the log', async () => {
    const { dir: small, cleanup: c1 } = tempDir('flow-recover-small-');
    const { dir: large, cleanup: c2 } = tempDir('flow-recover-large-');
    try {
      const streams = 20;
      const history = (cycles: number) =>
        Array.from({ length: cycles }, () => [{ t: 'started' as const }, { t: 'changed' as const }, { t: 'wait' as const, ms: 600 }, { t: 'exited' as const, code: null }]).flat();
      const measure = async (dir: string, cycles: number) => {
        const logs = new Map<string, SimEvent[]>();
        for (let i = 0; i < streams; i++) logs.set(`backend-child:s${i}`, backendLog(`s${i}`, history(cycles)));
        const counted = countingStore(dir);
        writeLogs(counted.store, logs);
        counted.reset();
        const host = await restartHost(counted.store);
        const rows = counted.rows();
        try {
          expectFullFold(host, counted.store, [...logs.keys()]);
          return { rows, events: counted.store.headPosition() };
        } finally {
          await host.stop();
          counted.store.close();
        }
      };
      const a = await measure(small, 2);
      const b = await measure(large, 60);
      expect(b.events).toBeGreaterThan(4000);
      expect(b.events).toBeGreaterThan(a.events * 20);
      // The same rows for a log 30 times as long: heads, projection rows, timers — per actor.
      expect(b.rows).toBe(a.rows);
      expect(b.rows).toBeLessThanOrEqual(streams * 3);
    } finally {
      c1();
      c2();
    }
  });

  it('given a snapshot stamped with an older machine version, when the host restarts, then that stream alone is folded from the log and its row restamped', async () => {
    const { dir, cleanup } = tempDir('flow-recover-old-');
    try {
      const counted = countingStore(dir);
      const logs = new Map([
        ['backend-child:old', backendLog('old', [{ t: 'started' }, { t: 'exited', code: 1 }, { t: 'wait', ms: 2000 }, { t: 'started' }])],
        ['backend-child:new', backendLog('new', [{ t: 'started' }, { t: 'exited', code: 1 }, { t: 'wait', ms: 2000 }, { t: 'started' }])],
      ]);
      writeLogs(counted.store, logs);
      counted.store.db.prepare(`UPDATE actor_state SET machine = 'v0', snapshot = json_set(snapshot, '$.context.restarts', 42) WHERE stream_id = 'backend-child:old'`).run();
      const lines: string[] = [];
      counted.reset();
      const host = await ActorHost.start({ store: counted.store, live: new InProcessLiveBus(), services: [bare], log: (l) => lines.push(l), orphanGraceMs: 10 });
      try {
        expectFullFold(host, counted.store, [...logs.keys()]);
        expect((host.snapshotOf('backend-child:old')!.snapshot.context as { restarts: number }).restarts).toBe(1);
        expect(lines.join('\n')).toMatch(/1 projection\(s\) not trusted.*backend-child:old \(older machine\)/);
      } finally {
        await host.stop();
        counted.store.close();
      }
    } finally {
      cleanup();
    }
  });

  it('given a stored snapshot edited by hand (same machine version), when the host restarts, then it starts from it: recovery trusts the row, the verifier is the judge', async () => {
    const { dir, cleanup } = tempDir('flow-recover-trust-');
    try {
      const store = openTestStore(join(dir, 'flow.db'));
      writeLogs(store, new Map([['backend-child:t', backendLog('t', [{ t: 'started' }])]]));
      store.db.prepare(`UPDATE actor_state SET snapshot = json_set(snapshot, '$.context.restarts', 7)`).run();
      const host = await restartHost(store);
      try {
        expect((host.snapshotOf('backend-child:t')!.snapshot.context as { restarts: number }).restarts).toBe(7);
        // The host's refold (what the background verifier asks for) puts the log's answer back.
        expect(await host.refold('backend-child:t')).toBe(true);
        expectFullFold(host, store, ['backend-child:t']);
        expect(await host.refold('backend-child:t')).toBe(false);
      } finally {
        await host.stop();
        store.close();
      }
    } finally {
      cleanup();
    }
  });
});
