import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { kindFor } from '../../actors/index.js';
import { toolInstallStreamId } from '../../actors/tool-install/index.js';
import { ActorProjector } from '../../services/store/projections.js';
import { ActorReadModel } from '../../services/store/actor-read-model.js';
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

/**
 * One host's log as the host writes it: an epoch of its own (the SQLite file's), positions
 * 1, 2, ... across its streams, versions 1..n per stream, ids in time order (UUIDv7).
 * `wipe()` is a FLOW_HOME wiped under the same host id: a new file, so a new epoch, and
 * positions and versions that count from 1 again.
 */
function hostLog(host: string) {
  let epoch = randomUUID();
  let position = 0;
  let versions = new Map<string, number>();
  return {
    host,
    get epoch() {
      return epoch;
    },
    /** `n` more events of a stream (a type and data for each, or STOP_REQUESTED). */
    write(streamId: string, n: number, event: (i: number) => { type: string; data: Record<string, unknown> } = () => ({ type: 'STOP_REQUESTED', data: {} })): EventEnvelope[] {
      return Array.from({ length: n }, (_, i) => {
        const version = (versions.get(streamId) ?? 0) + 1;
        versions.set(streamId, version);
        return {
          id: uuidv7(),
          position: ++position,
          host,
          epoch,
          streamType: streamId.slice(0, streamId.indexOf(':')),
          streamId,
          version,
          ...event(i),
          meta: {},
          at: new Date().toISOString(),
        };
      });
    },
    /** Versions 1..n of a stream, as if it had never been written (positions go on). */
    newStream(streamId: string, n: number): EventEnvelope[] {
      versions.delete(streamId);
      return this.write(streamId, n);
    },
    wipe() {
      epoch = randomUUID();
      position = 0;
      versions = new Map();
    },
  };
}

const hostA = hostLog('host-a');
/** A stream of `n` events (versions 1..n) in host-a's log. */
const hostStream = (streamId: string, n: number): EventEnvelope[] => hostA.newStream(streamId, n);

/** Numbers deliveries the way JetStream's stream sequence does: one up per message. */
function source() {
  let seq = 0;
  return (...bodies: unknown[]): Delivered[] => bodies.map((body) => ({ seq: ++seq, body }));
}

const versionsOf = (r: ReplicaLog, streamId: string) => r.store.readStream(streamId).map((e) => e.version);
const idsOf = (r: ReplicaLog, streamId: string) => r.store.readStream(streamId).map((e) => e.id);
const pendingRows = (r: ReplicaLog) => (r.store.db.prepare(`SELECT count(*) AS n FROM replica_parked`).get() as { n: number }).n;
/** What the replica holds of one host log (host, epoch), in the host's order: the ids of its events. */
const logOf = (r: ReplicaLog, host: string, epoch: string) =>
  r.store
    .readAll(0, 100_000)
    .filter((e) => e.host === host && e.epoch === epoch)
    .map((e) => e.id);
const actorsOf = (r: ReplicaLog, streamType: string) => new ActorReadModel(r.store).listActors(streamType);

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
    expect(replica.ingest([])).toEqual({ applied: [], duplicates: 0, parked: 0, rejected: 0, retired: 0 });
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
  }, 120_000);
});

/** The steps `f install ./echo` records, as a link install. */
const installStep = (i: number): { type: string; data: Record<string, unknown> } =>
  [
    { type: 'INSTALL_REQUESTED', data: { source: { kind: 'link', path: '/tools/echo' }, force: false, upgrade: false } },
    { type: 'MANIFEST_VALIDATED', data: { manifestPath: '/tools/echo/flow-tool.toml', manifestSha256: '0'.repeat(64), language: 'node', version: null } },
    {
      type: 'REGISTERED',
      data: {
        registration: { kind: 'link', installId: null, sourceRoot: '/tools/echo', manifestPath: '/tools/echo/flow-tool.toml', version: null, installedAt: new Date().toISOString() },
        replaced: [],
        active: true,
        shims: ['echo'],
      },
    },
  ][i]!;

const ids = (es: readonly EventEnvelope[]) => es.map((e) => e.id);
const statusOf = (r: ReplicaLog, streamId: string) => new ActorReadModel(r.store).getActor(streamId);

describe('ReplicaLog across hosts and host logs', () => {
  it('given two hosts that each install the same tool, applies both installs: each is a stream of its own, named with its host', () => {
    const { replica } = replicaFile();
    const deliver = source();
    const alpha = hostLog('alpha');
    const beta = hostLog('beta');
    const a = alpha.write(toolInstallStreamId('echo', 'alpha'), 3, installStep);
    const b = beta.write(toolInstallStreamId('echo', 'beta'), 3, installStep);

    const r = replica.ingest(deliver(...a, ...b));

    expect(r).toMatchObject({ duplicates: 0, parked: 0, retired: 0 });
    expect(r.applied).toHaveLength(6);
    expect(actorsOf(replica, 'tool-install').map((x) => [x.streamId, x.host, x.status])).toEqual([
      ['tool-install:echo_alpha', 'alpha', 'installed'],
      ['tool-install:echo_beta', 'beta', 'installed'],
    ]);
  });

  it('given two live hosts that wrote the same stream id (an install named before installs were per host), keeps the second one too, shown as retired, never dropped as duplicates', () => {
    const { replica } = replicaFile();
    const deliver = source();
    const alpha = hostLog('alpha');
    const beta = hostLog('beta');
    const a = alpha.write('tool-install:echo', 3, installStep);
    const b = beta.write('tool-install:echo', 3, installStep);

    const r = replica.ingest(deliver(...a, ...b));

    expect(r).toMatchObject({ duplicates: 0, applied: expect.arrayContaining([...a, ...b].map((e) => expect.objectContaining({ id: e.id }))) });
    expect(logOf(replica, 'beta', beta.epoch)).toEqual(ids(b));
    expect(replica.ownerOf('tool-install:echo')).toBe('alpha');
    expect(idsOf(replica, 'tool-install:echo')).toEqual(ids(a));
    const rows = actorsOf(replica, 'tool-install').sort((x, y) => x.host.localeCompare(y.host));
    expect(rows.map((x) => [x.host, x.status])).toEqual([
      ['alpha', 'installed'],
      ['beta', 'retired'],
    ]);
    expect(rows[1]!.retired).toMatchObject({ reason: 'duplicate', message: expect.stringMatching(/alpha/) });
  });

  it('given a host whose FLOW_HOME was wiped (same host id, a new log), retires the actors of its old log and applies the new log in full', () => {
    const { replica } = replicaFile();
    const deliver = source();
    const alpha = hostLog('alpha');
    const oldEpoch = alpha.epoch;
    const oldApi = alpha.write('backend-child:api', 3);
    const oldWeb = alpha.write('backend-child:web', 2);
    replica.ingest(deliver(...oldApi, ...oldWeb));

    alpha.wipe();
    // Positions 1-2 and versions 1-2 again: what a replica that dedups by version takes for repeats.
    const newApi = alpha.write('backend-child:api', 2);
    const r = replica.ingest(deliver(...newApi));

    expect(r).toMatchObject({ duplicates: 0, retired: 2 });
    expect(ids(r.applied)).toEqual(ids(newApi));
    // The new log's stream takes the name; the old log stays in the replica's log, whole.
    expect(idsOf(replica, 'backend-child:api')).toEqual(ids(newApi));
    expect(logOf(replica, 'alpha', oldEpoch)).toEqual(ids([...oldApi, ...oldWeb]));
    expect(idsOf(replica, replica.streamOf('alpha', oldEpoch, 'backend-child:api')!)).toEqual(ids(oldApi));
    expect(replica.ownerOf('backend-child:api')).toBe('alpha');
    expect(replica.ownerOf('backend-child:web')).toBeUndefined();
    const rows = actorsOf(replica, 'backend-child');
    expect(rows.map((x) => [x.streamId, x.epoch, x.status === 'retired'])).toEqual([
      ['backend-child:api', alpha.epoch, false],
      ['backend-child:web', oldEpoch, true],
    ]);
    expect(rows[1]!.retired).toMatchObject({ reason: 'new-log', message: expect.stringMatching(/host alpha .*new log/) });
  });

  it('given the new log first and the old one after, still retires the old one: which log is newer does not depend on delivery order', () => {
    const { replica } = replicaFile();
    const deliver = source();
    const alpha = hostLog('alpha');
    const oldEpoch = alpha.epoch;
    const oldApi = alpha.write('backend-child:api', 3);
    const oldWeb = alpha.write('backend-child:web', 2);
    alpha.wipe();
    const newApi = alpha.write('backend-child:api', 2);

    replica.ingest(deliver(...newApi));
    const late = replica.ingest(deliver(...oldApi, ...oldWeb));

    expect(late).toMatchObject({ duplicates: 0 });
    expect(idsOf(replica, 'backend-child:api')).toEqual(ids(newApi));
    expect(logOf(replica, 'alpha', oldEpoch)).toEqual(ids([...oldApi, ...oldWeb]));
    expect(replica.ownerOf('backend-child:api')).toBe('alpha');
    expect(replica.ownerOf('backend-child:web')).toBeUndefined();
    expect(statusOf(replica, 'backend-child:web')?.status).toBe('retired');
  });

  it('a repeat is recognised by event id, and by (host, epoch, position) under another id; the same position and version in a new log is not a repeat', () => {
    const { replica } = replicaFile();
    const deliver = source();
    const alpha = hostLog('alpha');
    const [e1, e2, e3] = alpha.write('backend-child:api', 3);
    replica.ingest(deliver(e1!, e3!));

    const again = replica.ingest(deliver(e1!, { ...e1!, id: uuidv7(), type: 'START_REQUESTED' }, { ...e3!, id: uuidv7() }));
    expect(again).toMatchObject({ applied: [], duplicates: 3 });
    expect(replica.ingest(deliver(e2!)).applied.map((e) => e.id)).toEqual([e2!.id, e3!.id]);

    alpha.wipe();
    const [n1] = alpha.write('backend-child:api', 1);
    expect([n1!.position, n1!.version]).toEqual([e1!.position, e1!.version]);
    expect(ids(replica.ingest(deliver(n1!)).applied)).toEqual([n1!.id]);
  });

  it('forget(host) retires every actor of that host (the host is gone for good); other hosts keep theirs', () => {
    const { replica } = replicaFile();
    const deliver = source();
    const alpha = hostLog('alpha');
    const beta = hostLog('beta');
    replica.ingest(deliver(...alpha.write('backend-child:api', 2), ...alpha.write('tunnel:web', 1), ...beta.write('backend-child:db', 1)));

    expect(replica.forget('alpha')).toEqual({ retired: 2 });

    expect(replica.ownerOf('backend-child:api')).toBeUndefined();
    expect(replica.ownerOf('backend-child:db')).toBe('beta');
    expect(statusOf(replica, 'backend-child:api')).toMatchObject({ status: 'retired', retired: { reason: 'forgotten' } });
    expect(statusOf(replica, 'backend-child:db')?.status).not.toBe('retired');
    expect(replica.hostList()).toEqual([
      { id: 'alpha', epoch: null, actors: 0, retired: 2, epochs: [{ epoch: alpha.epoch, retiredAt: expect.any(String), reason: 'forgotten' }] },
      { id: 'beta', epoch: beta.epoch, actors: 1, retired: 0, epochs: [{ epoch: beta.epoch, retiredAt: null, reason: null }] },
    ]);
    expect(replica.forget('gamma')).toBeUndefined();
  });

  it('dismiss(streamId) takes a retired actor out of the view; a live one it leaves alone; a new owner of the name replaces it', () => {
    const { replica } = replicaFile();
    const deliver = source();
    const alpha = hostLog('alpha');
    const beta = hostLog('beta');
    replica.ingest(deliver(...alpha.write('backend-child:api', 2), ...beta.write('backend-child:db', 1)));
    replica.forget('alpha');

    expect(replica.dismiss('backend-child:db')).toBe(false);
    expect(replica.dismiss('backend-child:api')).toBe(true);
    expect(statusOf(replica, 'backend-child:api')?.status).toBe('removed');

    const created = beta.write('backend-child:api', 1);
    replica.ingest(deliver(...created));
    expect(replica.ownerOf('backend-child:api')).toBe('beta');
    expect(idsOf(replica, 'backend-child:api')).toEqual(ids(created));
    expect(actorsOf(replica, 'backend-child').map((x) => [x.streamId, x.host])).toEqual([
      ['backend-child:api', 'beta'],
      ['backend-child:db', 'beta'],
    ]);
  });

  it('a host seen connected with a new log retires its old log\'s actors before that log has written anything; the log it knows changes nothing', () => {
    const { replica } = replicaFile();
    const deliver = source();
    const alpha = hostLog('alpha');
    replica.ingest(deliver(...alpha.write('backend-child:api', 2)));

    replica.observeConnected([{ host: 'alpha', epoch: alpha.epoch }]);
    expect(replica.ownerOf('backend-child:api')).toBe('alpha');

    alpha.wipe();
    replica.observeConnected([{ host: 'alpha', epoch: alpha.epoch }]);
    expect(replica.ownerOf('backend-child:api')).toBeUndefined();
    expect(statusOf(replica, 'backend-child:api')).toMatchObject({ status: 'retired', retired: { reason: 'new-log' } });
  });

  it('a forgotten host that connects again with the same log gets its actors back', () => {
    const { replica } = replicaFile();
    const deliver = source();
    const alpha = hostLog('alpha');
    replica.ingest(deliver(...alpha.write('backend-child:api', 2)));
    replica.forget('alpha');

    replica.observeConnected([{ host: 'alpha', epoch: alpha.epoch }]);

    expect(replica.ownerOf('backend-child:api')).toBe('alpha');
    expect(statusOf(replica, 'backend-child:api')?.retired).toBeNull();
  });

  it('waitFor(streamId, version) waits for the new owner\'s event, not the retired stream\'s of the same name', async () => {
    const { replica } = replicaFile();
    const deliver = source();
    const alpha = hostLog('alpha');
    replica.ingest(deliver(...alpha.write('backend-child:api', 3)));
    alpha.wipe();
    replica.observeConnected([{ host: 'alpha', epoch: alpha.epoch }]);

    const waiting = replica.waitFor('backend-child:api', 1, 10_000);
    const [created] = alpha.write('backend-child:api', 1);
    replica.ingest(deliver(created!));

    expect((await waiting)?.id).toBe(created!.id);
  });

  it('given envelopes from a Flow before epochs (no epoch field), then the same host upgraded (its log now says its epoch), the streams go on, nothing retired', () => {
    const { replica } = replicaFile();
    const deliver = source();
    const alpha = hostLog('alpha');
    const [e1, e2, e3] = alpha.write('backend-child:api', 3);
    const legacy = [e1!, e2!].map(({ epoch: _epoch, ...rest }) => rest);

    replica.ingest(deliver(...legacy));
    const r = replica.ingest(deliver(e3!, e1!));

    expect(r).toMatchObject({ retired: 0, duplicates: 1 });
    expect(idsOf(replica, 'backend-child:api')).toEqual(ids([e1!, e2!, e3!]));
    expect(replica.ownerOf('backend-child:api')).toBe('alpha');
    expect(replica.hostList()).toMatchObject([{ id: 'alpha', epoch: alpha.epoch, actors: 1, retired: 0 }]);
  });

  it('given two processes connected as the same host with two logs, retires nothing on their word and says what to fix', () => {
    const { replica, logged } = replicaFile();
    const deliver = source();
    const alpha = hostLog('alpha');
    replica.ingest(deliver(...alpha.write('backend-child:api', 1)));

    replica.observeConnected([
      { host: 'alpha', epoch: alpha.epoch },
      { host: 'alpha', epoch: randomUUID() },
    ]);
    replica.observeConnected([
      { host: 'alpha', epoch: alpha.epoch },
      { host: 'alpha', epoch: 'bogus' },
    ]);

    expect(replica.ownerOf('backend-child:api')).toBe('alpha');
    expect(logged.filter((l) => /connected as alpha, each with its own log.*FLOW_HOST_ID/.test(l))).toHaveLength(2);
  });

  it('a host seen connected before any of its events arrive is listed; its older log, arriving later, is retired on arrival', () => {
    const { replica } = replicaFile();
    const deliver = source();
    const alpha = hostLog('alpha');
    const old = alpha.write('backend-child:api', 2);
    alpha.wipe();

    replica.observeConnected([{ host: 'alpha', epoch: alpha.epoch }]);
    expect(replica.hostList()).toEqual([{ id: 'alpha', epoch: alpha.epoch, actors: 0, retired: 0, epochs: [{ epoch: alpha.epoch, retiredAt: null, reason: null }] }]);
    replica.ingest(deliver(...old));

    expect(replica.ownerOf('backend-child:api')).toBeUndefined();
    expect(statusOf(replica, 'backend-child:api')).toMatchObject({ status: 'retired', retired: { reason: 'new-log' } });
  });

  it('keeps what it knows of host logs (epochs, retired actors) across a reopen of the SQLite file', () => {
    const file = replicaFile();
    const deliver = source();
    const alpha = hostLog('alpha');
    file.replica.ingest(deliver(...alpha.write('backend-child:web', 2)));
    alpha.wipe();
    file.replica.ingest(deliver(...alpha.write('backend-child:api', 1)));

    const reopened = file.reopen(file.replica);

    expect(reopened.ownerOf('backend-child:web')).toBeUndefined();
    expect(reopened.ownerOf('backend-child:api')).toBe('alpha');
    expect(statusOf(reopened, 'backend-child:web')?.status).toBe('retired');
  });

  it('property: any interleaving, duplication and batching of two hosts\' logs, across a wipe of one of them, yields per (host, epoch) exactly that log, each stream in version order, owned by the newest log', () => {
    const names = ['backend-child:a', 'backend-child:b', 'tunnel:c'];
    const streams = fc.array(fc.tuple(fc.constantFrom(...names), fc.integer({ min: 1, max: 4 })), { maxLength: 3 });
    const scenario = fc
      .record({
        before: streams,
        after: fc.array(fc.tuple(fc.constantFrom(...names), fc.integer({ min: 1, max: 4 })), { minLength: 1, maxLength: 3 }),
        other: fc.array(fc.tuple(fc.constantFrom('backend-child:x', 'tool-install:echo_beta'), fc.integer({ min: 1, max: 3 })), { maxLength: 2 }),
      })
      .chain((logs) => {
        const total = [...logs.before, ...logs.after, ...logs.other].reduce((a, [, n]) => a + n, 0);
        return fc.record({
          logs: fc.constant(logs),
          repeats: fc.array(fc.nat({ max: total - 1 }), { maxLength: 8 }),
          keys: fc.array(fc.nat(), { minLength: total + 8, maxLength: total + 8 }),
          cuts: fc.array(fc.constantFrom('none', 'batch', 'reopen'), { minLength: total + 8, maxLength: total + 8 }),
        });
      });
    fc.assert(
      fc.property(scenario, ({ logs, repeats, keys, cuts }) => {
        const alpha = hostLog('alpha');
        const beta = hostLog('beta');
        const write = (log: ReturnType<typeof hostLog>, plan: [string, number][]) => plan.flatMap(([s, n]) => log.write(s, n, s.startsWith('tool-install') ? installStep : undefined));
        const oldEpoch = alpha.epoch;
        const before = write(alpha, logs.before);
        alpha.wipe();
        const after = write(alpha, logs.after);
        const other = write(beta, logs.other);
        const written = [
          { host: 'alpha', epoch: oldEpoch, events: before },
          { host: 'alpha', epoch: alpha.epoch, events: after },
          { host: 'beta', epoch: beta.epoch, events: other },
        ];
        const all = [...before, ...after, ...other];
        const deliveries = [...all, ...repeats.map((i) => all[i]!)]
          .map((e, i) => ({ e, key: keys[i]! }))
          .sort((x, y) => x.key - y.key)
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

        for (const w of written) {
          expect([...logOf(replica, w.host, w.epoch)].sort()).toEqual(ids(w.events).sort());
          for (const streamId of new Set(w.events.map((e) => e.streamId))) {
            const local = replica.streamOf(w.host, w.epoch, streamId);
            expect(local).toBeDefined();
            expect(idsOf(replica, local!)).toEqual(ids(w.events.filter((e) => e.streamId === streamId)));
          }
        }
        const newer = new Set(after.map((e) => e.streamId));
        for (const s of newer) expect(replica.ownerOf(s)).toBe('alpha');
        for (const s of new Set(before.map((e) => e.streamId))) if (!newer.has(s)) expect(replica.ownerOf(s)).toBeUndefined();
        for (const s of new Set(other.map((e) => e.streamId))) expect(replica.ownerOf(s)).toBe('beta');
        expect(replica.store.headPosition()).toBe(all.length);
        expect(duplicates).toBe(repeats.length);
        expect(pendingRows(replica)).toBe(0);
        expect(replica.checkpoint).toBe(deliveries.length);
      }),
      { numRuns: 50 },
    );
  }, 120_000);
});
