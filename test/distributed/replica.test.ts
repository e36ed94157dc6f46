import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { kindFor } from '../../actors/index.js';
import { ActorProjector } from '../../services/host/actor-projection.js';
import type { EventEnvelope } from '../../services/store/envelope.js';
import { EventStore } from '../../services/store/event-store.js';
import { ReplicaLog, type Delivered } from '../../services/store/replica.js';
import { tempDir } from '../support/tmp.js';

/**
 * A gateway's replica (services/store/replica.ts): what JetStream delivers, in whatever order
 * and however often, becomes each stream in version order, once, in the gateway's own SQLite
 * file. No NATS here: deliveries are handed to `ingest` as the feed would hand them.
 */

const dirs: ReturnType<typeof tempDir>[] = [];
const open: ReplicaLog[] = [];

afterEach(() => {
  for (const r of open.splice(0)) r.store.close();
  for (const d of dirs.splice(0)) d.cleanup();
});

/** A replica in a SQLite file of its own, as `f gateway` opens it; `reopen` closes it and opens the same file again. */
function replicaFile() {
  const dir = tempDir('flow-replica-');
  dirs.push(dir);
  const path = join(dir.dir, 'gateway.db');
  const logged: string[] = [];
  const openReplica = () => {
    const r = new ReplicaLog(EventStore.open(path, { host: 'gateway', projectors: [new ActorProjector(kindFor)], pollMs: 0 }), (l) => logged.push(l));
    open.push(r);
    return r;
  };
  return {
    replica: openReplica(),
    logged,
    reopen(r: ReplicaLog): ReplicaLog {
      open.splice(open.indexOf(r), 1);
      r.store.close();
      return openReplica();
    },
  };
}

let hostPosition = 0;
/** A host's stream of `n` events as the host wrote them (envelopes, versions 1..n). */
function hostStream(streamId: string, n: number, host = 'host-a'): EventEnvelope[] {
  return Array.from({ length: n }, (_, i) => ({
    id: uuidv7(),
    position: ++hostPosition,
    host,
    streamType: streamId.slice(0, streamId.indexOf(':')),
    streamId,
    version: i + 1,
    type: 'STOP_REQUESTED',
    data: {},
    meta: {},
    at: new Date().toISOString(),
  }));
}

/** Numbers deliveries the way JetStream's stream sequence does: one up per message. */
function source() {
  let seq = 0;
  return (...bodies: unknown[]): Delivered[] => bodies.map((body) => ({ seq: ++seq, body }));
}

const versionsOf = (r: ReplicaLog, streamId: string) => r.store.readStream(streamId).map((e) => e.version);
const idsOf = (r: ReplicaLog, streamId: string) => r.store.readStream(streamId).map((e) => e.id);
const pendingRows = (r: ReplicaLog) => (r.store.db.prepare(`SELECT count(*) AS n FROM replica_pending`).get() as { n: number }).n;

describe('ReplicaLog.ingest', () => {
  it('given a stream delivered in order, applies it as it is and moves the checkpoint to the last sequence', () => {
    const { replica } = replicaFile();
    const deliver = source();
    const s = hostStream('backend-child:a', 3);

    const r = replica.ingest(deliver(...s));

    expect(r).toMatchObject({ duplicates: 0, parked: 0, rejected: 0 });
    expect(r.applied.map((e) => e.id)).toEqual(s.map((e) => e.id));
    expect(replica.store.readStream('backend-child:a')).toEqual(s.map((e, i) => ({ ...e, position: i + 1 })));
    expect(replica.checkpoint).toBe(3);
    expect(replica.ownerOf('backend-child:a')).toBe('host-a');
  });

  it('given an event it already has, when the same message is delivered again (same id), skips it as a duplicate', () => {
    const { replica } = replicaFile();
    const deliver = source();
    const [e1, e2] = hostStream('backend-child:a', 2);

    const [b1] = hostStream('backend-child:b', 1);
    replica.ingest(deliver(e1, e2));

    // Again in a later batch...
    const later = replica.ingest(deliver(e1, e2));
    // ...and twice within one batch.
    const within = replica.ingest(deliver(b1, b1));

    expect(later).toMatchObject({ applied: [], duplicates: 2 });
    expect(within).toMatchObject({ applied: [expect.objectContaining({ id: b1!.id })], duplicates: 1 });
    expect(idsOf(replica, 'backend-child:a')).toEqual([e1!.id, e2!.id]);
    expect(idsOf(replica, 'backend-child:b')).toEqual([b1!.id]);
    expect(replica.checkpoint).toBe(6);
  });

  it('given a stream at version 2, when another event claims version 1 or 2 (another id), skips it as a duplicate', () => {
    const { replica } = replicaFile();
    const deliver = source();
    const s = hostStream('backend-child:a', 2);
    replica.ingest(deliver(...s));

    const impostor = { ...s[1]!, id: uuidv7(), type: 'START_REQUESTED' };
    const r = replica.ingest(deliver(impostor, { ...s[0]!, id: uuidv7() }));

    expect(r).toMatchObject({ applied: [], duplicates: 2 });
    expect(idsOf(replica, 'backend-child:a')).toEqual(s.map((e) => e.id));
  });

  it('given an event ahead of a gap in its stream, parks it, and applies it right after the event that fills the gap', () => {
    const { replica } = replicaFile();
    const deliver = source();
    const [e1, e2, e3] = hostStream('backend-child:a', 3);
    const other = hostStream('tunnel:t', 1);

    const r = replica.ingest(deliver(e1, e3, ...other, e2));

    expect(r).toMatchObject({ parked: 1, duplicates: 0 });
    expect(r.applied.map((e) => [e.streamId, e.version])).toEqual([
      ['backend-child:a', 1],
      ['tunnel:t', 1],
      ['backend-child:a', 2],
      ['backend-child:a', 3],
    ]);
    expect(versionsOf(replica, 'backend-child:a')).toEqual([1, 2, 3]);
    expect(pendingRows(replica)).toBe(0);
  });

  it('given events parked by one batch, applies them in version order when a later batch fills the gap', () => {
    const { replica } = replicaFile();
    const deliver = source();
    const [e1, e2, e3, e4] = hostStream('backend-child:a', 4);

    const first = replica.ingest(deliver(e4, e1, e3));
    expect(first).toMatchObject({ parked: 2 });
    expect(versionsOf(replica, 'backend-child:a')).toEqual([1]);
    expect(pendingRows(replica)).toBe(2);

    const second = replica.ingest(deliver(e2));

    expect(second.applied.map((e) => e.version)).toEqual([2, 3, 4]);
    expect(idsOf(replica, 'backend-child:a')).toEqual([e1, e2, e3, e4].map((e) => e!.id));
    expect(pendingRows(replica)).toBe(0);
  });

  it('given events parked before the SQLite file was closed, applies them when the gap fills after it is opened again', () => {
    const file = replicaFile();
    const deliver = source();
    const [e1, e2, e3] = hostStream('backend-child:a', 3);
    file.replica.ingest(deliver(e1, e3));

    const reopened = file.reopen(file.replica);
    const r = reopened.ingest(deliver(e2));

    expect(r.applied.map((e) => e.version)).toEqual([2, 3]);
    expect(idsOf(reopened, 'backend-child:a')).toEqual([e1, e2, e3].map((e) => e!.id));
    expect(pendingRows(reopened)).toBe(0);
  });

  it('given a parked event, when it is delivered again before the gap fills, counts it as a duplicate and applies it once', () => {
    const { replica } = replicaFile();
    const deliver = source();
    const [e1, e2, e3] = hostStream('backend-child:a', 3);
    replica.ingest(deliver(e1, e3));

    const again = replica.ingest(deliver(e3, e2));

    expect(again).toMatchObject({ duplicates: 1, parked: 0 });
    expect(again.applied.map((e) => e.version)).toEqual([2, 3]);
    expect(idsOf(replica, 'backend-child:a')).toEqual([e1, e2, e3].map((e) => e!.id));
    // Nothing is left waiting for a gap that no longer exists.
    expect(pendingRows(replica)).toBe(0);
  });

  it('keeps its checkpoint, and what it applied, across a reopen of the SQLite file', () => {
    const file = replicaFile();
    const deliver = source();
    const s = hostStream('backend-child:a', 4);
    file.replica.ingest(deliver(...s.slice(0, 2)));
    file.replica.ingest(deliver(...s.slice(2)));
    const epoch = file.replica.store.epoch;

    const reopened = file.reopen(file.replica);

    expect(reopened.checkpoint).toBe(4);
    expect(idsOf(reopened, 'backend-child:a')).toEqual(s.map((e) => e.id));
    expect(reopened.store.epoch).toBe(epoch);
  });

  it('given bodies that are not event envelopes, counts them as rejected, applies the rest and moves the checkpoint past them', () => {
    const { replica, logged } = replicaFile();
    const deliver = source();
    const [e1, e2] = hostStream('backend-child:a', 2);

    const r = replica.ingest(deliver(null, e1, { ...e2!, streamId: 'no colon' }, 'text', { ...e2!, id: 'not-a-uuid' }, e2));

    expect(r).toMatchObject({ rejected: 4, duplicates: 0, parked: 0 });
    expect(r.applied.map((e) => e.id)).toEqual([e1!.id, e2!.id]);
    expect(replica.checkpoint).toBe(6);
    expect(logged.filter((l) => /not an event envelope/.test(l))).toHaveLength(4);
  });

  it('an empty batch changes nothing', () => {
    const { replica } = replicaFile();
    expect(replica.ingest([])).toEqual({ applied: [], duplicates: 0, parked: 0, rejected: 0 });
    expect(replica.checkpoint).toBe(0);
  });

  it('property: any interleaving, duplication and batching of the deliveries (with reopens between batches) yields every stream once, in version order', () => {
    const streamLengths = fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 });
    const scenario = streamLengths.chain((lengths) => {
      const total = lengths.reduce((a, b) => a + b, 0);
      return fc.record({
        lengths: fc.constant(lengths),
        repeats: fc.array(fc.nat({ max: total - 1 }), { maxLength: 8 }),
        // A sort key per delivery (total + repeats of them at most): the delivery order.
        keys: fc.array(fc.nat(), { minLength: total + 8, maxLength: total + 8 }),
        // After which deliveries a batch ends, and whether the gateway restarts there.
        cuts: fc.array(fc.constantFrom('none', 'batch', 'reopen'), { minLength: total + 8, maxLength: total + 8 }),
      });
    });
    fc.assert(
      fc.property(scenario, ({ lengths, repeats, keys, cuts }) => {
        const streams = lengths.map((n, i) => hostStream(`backend-child:s${i}`, n));
        const all = streams.flat();
        const deliveries = [...all, ...repeats.map((i) => all[i]!)]
          .map((e, i) => ({ e, key: keys[i]! }))
          .sort((a, b) => a.key - b.key)
          .map((d) => d.e);

        const file = replicaFile();
        let replica = file.replica;
        const deliver = source();
        let batch: EventEnvelope[] = [];
        let duplicates = 0;
        deliveries.forEach((e, i) => {
          batch.push(e);
          const cut = i === deliveries.length - 1 ? 'batch' : cuts[i];
          if (cut === 'none') return;
          duplicates += replica.ingest(deliver(...batch)).duplicates;
          batch = [];
          if (cut === 'reopen') replica = file.reopen(replica);
        });

        for (const s of streams) expect(idsOf(replica, s[0]!.streamId)).toEqual(s.map((e) => e.id));
        expect(replica.store.headPosition()).toBe(all.length);
        expect(duplicates).toBe(repeats.length);
        expect(pendingRows(replica)).toBe(0);
        expect(replica.checkpoint).toBe(deliveries.length);
      }),
      { numRuns: 60 },
    );
  });
});
