import type { ActorKind } from '../../actors/kind.js';
import { fastMachine, fastToStored, type FastMachine, type FastState } from '../../actors/fast-fold.js';
import { initialSnapshot, step, timerWork, toStored, type ActionLike, type Snapshot, type StoredSnapshot } from '../../actors/fold.js';
import type { Db } from './db.js';

/**
 * `f events verify`: the full fold is the judge of the stored projections. Every stream is
 * folded from its first event through its machine, straight from the rows (type, data, at:
 * no envelopes, no meta), and compared with its actor_state row and its timers. Everything a
 * range needs is read in one read transaction, so a host appending meanwhile cannot make a
 * row look wrong.
 */

export type Problem = 'missing row' | 'version' | 'snapshot' | 'machine' | 'timers' | 'row without a stream';

export interface Difference {
  streamId: string;
  problem: Problem;
  /** What the projection holds (a version, a machine version, a snapshot or timers as JSON). */
  stored: string | null;
  /** What the fold of the log gives. */
  folded: string | null;
}

export interface VerifyResult {
  streams: number;
  events: number;
  differences: Difference[];
}

/** Which streams to fold: a half-open id range [from, to) (undefined ends are open), or one stream. */
export type StreamRange = { from?: string; to?: string } | { streamId: string };

/** What the caller's machines are: the worker is given the versions, so both sides agree on them. */
export interface VerifyKinds {
  kindFor(streamType: string): ActorKind | undefined;
  versionOf(streamType: string): string | undefined;
}

/**
 * One stream's fold: through the fast fold (actors/fast-fold.ts) when the kind's machine is one
 * it covers, else through XState's step.
 */
export interface Folder {
  /** Whether this is the fast fold (whose disagreements XState's fold confirms before they count). */
  readonly fast: boolean;
  /** The row's event (its data just parsed: the folder may keep it), `at` as stored and parsed. */
  step(type: string, data: Record<string, unknown>, at: string, atMs: number): ActionLike[];
  stored(): StoredSnapshot;
}

export function folder(kind: ActorKind): Folder {
  const fm: FastMachine | null = fastMachine(kind);
  if (fm) {
    let state: FastState = fm.initial();
    return {
      fast: true,
      step(type, data, _at, atMs) {
        const [next, actions] = fm.stepOwned(state, type, data, atMs);
        state = next;
        return actions;
      },
      stored: () => fastToStored(state),
    };
  }
  return xstateFolder(kind);
}

function xstateFolder(kind: ActorKind): Folder {
  let snapshot: Snapshot = initialSnapshot(kind);
  return {
    fast: false,
    step(type, data, at) {
      const [next, actions] = step(kind, snapshot, { type, data, at });
      snapshot = next;
      return actions;
    },
    stored: () => toStored(snapshot),
  };
}

interface StateRow {
  stream_id: string;
  version: number;
  snapshot: string;
  machine: string;
}

function bounds(range: StreamRange): [string, string] {
  if ('streamId' in range) return [range.streamId, `${range.streamId}\u0000`];
  // U+FFFF sorts after every character a stream id may hold.
  return [range.from ?? '', range.to ?? '\uffff'];
}

export interface VerifyOptions {
  /** The fold for a stream (tests give a wrong fast fold to see XState overrule it). */
  folderFor?: (kind: ActorKind) => Folder;
}

interface StreamFold {
  type: string;
  kind: ActorKind;
  folder: Folder;
  version: number;
  timers: Map<string, string>;
}

function applyRow(f: StreamFold, eventType: string, data: string, at: string, version: number): void {
  // The event's own recorded time, parsed: no clock is read.
  const atMs = Date.parse(at);
  const actions = f.folder.step(eventType, JSON.parse(data) as Record<string, unknown>, at, atMs);
  f.version = version;
  if (actions.length > 0) {
    // The timers projection, as ActorProjector derives it.
    const work = timerWork(actions, atMs);
    for (const c of work.cancel) f.timers.delete(c);
    for (const t of work.arm) f.timers.set(t.timerId, `${t.dueAt} ${JSON.stringify(t.event)}`);
  }
}

export function verifyRange(db: Db, kinds: VerifyKinds, range: StreamRange, opts: VerifyOptions = {}): VerifyResult {
  const folderFor = opts.folderFor ?? folder;
  const streamStmt = db.prepare(`SELECT type, data, at, version FROM events WHERE stream_id = ? ORDER BY version`).raw(true);
  const [lo, hi] = bounds(range);
  const rowsStmt = db.prepare(`SELECT stream_id, version, snapshot, machine FROM actor_state WHERE stream_id >= ? AND stream_id < ?`);
  const timersStmt = db.prepare(`SELECT stream_id, timer_id, event, due_at FROM timers WHERE stream_id >= ? AND stream_id < ? ORDER BY stream_id, timer_id`);
  // One stream: through the log's (stream_id, version) index. A range: the table in log order
  // (`+stream_id` keeps SQLite from the index, whose lookups per row cost 3× a plain scan), with
  // a fold per stream of the range held meanwhile.
  const eventsStmt = db
    .prepare(
      'streamId' in range
        ? `SELECT stream_id, stream_type, version, type, data, at FROM events WHERE stream_id >= ? AND stream_id < ? ORDER BY stream_id, version`
        : `SELECT stream_id, stream_type, version, type, data, at FROM events WHERE +stream_id >= ? AND +stream_id < ? ORDER BY position`,
    )
    .raw(true);
  const own = !db.inTransaction;
  if (own) db.exec('BEGIN');
  try {
    const rows = new Map<string, StateRow>();
    for (const r of rowsStmt.all(lo, hi) as StateRow[]) rows.set(r.stream_id, r);
    const storedTimers = new Map<string, string[]>();
    for (const t of timersStmt.all(lo, hi) as { stream_id: string; timer_id: string; event: string; due_at: number }[]) {
      let list = storedTimers.get(t.stream_id);
      if (!list) storedTimers.set(t.stream_id, (list = []));
      list.push(`${t.timer_id} ${t.due_at} ${t.event}`);
    }
    const differences: Difference[] = [];
    let events = 0;
    const compare = (id: string, type: string, snapshot: StoredSnapshot, version: number, timers: Map<string, string>): Difference[] => {
      const out: Difference[] = [];
      const row = rows.get(id);
      const folded = JSON.stringify(snapshot);
      if (!row) return [{ streamId: id, problem: 'missing row', stored: null, folded }];
      if (row.version !== version) out.push({ streamId: id, problem: 'version', stored: String(row.version), folded: String(version) });
      const machine = kinds.versionOf(type);
      if (row.machine !== machine) out.push({ streamId: id, problem: 'machine', stored: row.machine, folded: machine ?? null });
      if (row.snapshot !== folded) out.push({ streamId: id, problem: 'snapshot', stored: row.snapshot, folded });
      const want = [...timers.entries()].map(([timerId, rest]) => `${timerId} ${rest}`).sort();
      const have = storedTimers.get(id) ?? [];
      if (JSON.stringify(want) !== JSON.stringify(have)) out.push({ streamId: id, problem: 'timers', stored: JSON.stringify(have), folded: JSON.stringify(want) });
      return out;
    };
    // A stream of a kind this Flow has no machine for (null here) has no projection to check.
    const folds = new Map<string, StreamFold | null>();
    for (const raw of eventsStmt.iterate(lo, hi) as Iterable<[string, string, number, string, string, string]>) {
      const [id, type, version, eventType, data, at] = raw;
      let current = folds.get(id);
      if (current === undefined) {
        const kind = kinds.kindFor(type);
        current = kind ? { type, kind, folder: folderFor(kind), version: 0, timers: new Map() } : null;
        folds.set(id, current);
      }
      if (!current) continue;
      applyRow(current, eventType, data, at, version);
      events++;
    }
    let streams = 0;
    for (const id of [...folds.keys()].sort()) {
      const f = folds.get(id);
      if (!f) continue;
      streams++;
      let found = compare(id, f.type, f.folder.stored(), f.version, f.timers);
      // XState is the judge: what the fast fold finds wrong is folded again through XState's own
      // step (rare: a projection differs only after a bug or an edit by hand) and counts only if
      // that fold disagrees too.
      if (f.folder.fast && found.some((d) => d.problem === 'snapshot' || d.problem === 'timers')) {
        const judge: StreamFold = { ...f, folder: xstateFolder(f.kind), version: 0, timers: new Map() };
        for (const [eventType, data, at, version] of streamStmt.iterate(id) as Iterable<[string, string, string, number]>) applyRow(judge, eventType, data, at, version);
        found = compare(id, f.type, judge.folder.stored(), judge.version, judge.timers);
      }
      rows.delete(id);
      differences.push(...found);
    }
    for (const row of rows.values()) differences.push({ streamId: row.stream_id, problem: 'row without a stream', stored: row.snapshot, folded: null });
    return { streams, events, differences };
  } finally {
    if (own) db.exec('COMMIT');
  }
}
