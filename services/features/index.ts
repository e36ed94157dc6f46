import { randomBytes } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { liveSubjects } from '../bus/names.js';
import type { LiveBus } from '../bus/types.js';
import type { Db } from '../store/db.js';
import type { EventEnvelope, ExpectedVersion, NewEvent } from '../store/envelope.js';
import { ConcurrencyError } from '../store/errors.js';
import { FEATURE_STREAM_TYPE, featureEvents, type Feature, type FeatureEventType, type FeatureStatus, type TaskRef } from './events.js';
import { readFeature, readFeatures } from './projection.js';

export * from './events.js';
export { FeatureProjector } from './projection.js';

export class FeatureError extends Error {
  constructor(
    readonly code: 'not_found' | 'conflict' | 'invalid',
    message: string,
  ) {
    super(message);
  }
}

/** The part of the event store features use: the log they append to, and the file their projection is in. */
export interface FeatureLog {
  readonly db: Db;
  append(streamType: string, streamId: string, expected: ExpectedVersion, events: readonly NewEvent[]): EventEnvelope[];
  streamVersion(streamId: string): number;
}

export interface NewFeature {
  id?: string;
  title: string;
  description?: string;
  status?: FeatureStatus;
  tasks?: TaskRef[];
}

export type FeatureChange = Partial<Pick<Feature, 'title' | 'description' | 'status' | 'tasks'>>;

/** What a board client hears on `flow.live.taskboard.feature` (and a seed client on /api/tasks/events). */
export interface FeatureNotice {
  type: 'feature-update';
  event: 'add' | 'change' | 'delete';
  featureId: string;
  stream: string;
}

const streamOf = (id: string) => `${FEATURE_STREAM_TYPE}:${id}`;

/** A title as an id: "Login page v2" → "login-page-v2". */
export function slugOf(title: string): string {
  return title
    .normalize('NFKD')
    // The accents NFKD split off ("ü" → "u" + U+0308) are dropped, not turned into dashes.
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48)
    .replace(/-+$/, '');
}

/**
 * Features that group board tasks. Every change is an event on the feature's own stream, appended
 * with the version it was decided on (a concurrent change fails with 409, nothing written); the
 * projection is updated in the same transaction, so a read after a write sees it. Each change is
 * also announced on the board's live subject, next to the task files' updates.
 */
export class FeatureService {
  private readonly now: () => number;

  constructor(
    private readonly log: FeatureLog,
    private readonly live: LiveBus,
    opts: { now?: () => number } = {},
  ) {
    this.now = opts.now ?? Date.now;
  }

  list(): Feature[] {
    return readFeatures(this.log.db);
  }

  get(id: string): Feature {
    const feature = readFeature(this.log.db, id);
    if (!feature) throw new FeatureError('not_found', `no feature ${id}; GET /api/features lists them`);
    return feature;
  }

  create(input: NewFeature): Feature {
    const id = input.id ?? this.freeId(input.title);
    if (readFeature(this.log.db, id)) throw new FeatureError('conflict', `a feature ${id} exists already; choose another id, or change it with PATCH /api/features/${id}`);
    const data = { title: input.title, description: input.description ?? '', status: input.status ?? 'pending', tasks: dedupe(input.tasks ?? []) };
    this.write(id, this.log.streamVersion(streamOf(id)), 'FEATURE_CREATED', data, 'add');
    return this.get(id);
  }

  update(id: string, change: FeatureChange): Feature {
    const current = this.get(id);
    const data: FeatureChange = {};
    if (change.title !== undefined && change.title !== current.title) data.title = change.title;
    if (change.description !== undefined && change.description !== current.description) data.description = change.description;
    if (change.status !== undefined && change.status !== current.status) data.status = change.status;
    if (change.tasks !== undefined) {
      const tasks = dedupe(change.tasks);
      if (JSON.stringify(tasks) !== JSON.stringify(current.tasks)) data.tasks = tasks;
    }
    // Nothing changed: no event, the same answer (a PATCH sent twice is one change).
    if (Object.keys(data).length === 0) return current;
    this.write(id, current.version, 'FEATURE_UPDATED', data, 'change');
    return this.get(id);
  }

  remove(id: string): void {
    const current = this.get(id);
    this.write(id, current.version, 'FEATURE_DELETED', {}, 'delete');
  }

  private write(id: string, expected: number, type: FeatureEventType, data: Record<string, unknown>, notice: FeatureNotice['event']): void {
    const checked = featureEvents[type].parse(data) as Record<string, unknown>;
    try {
      this.log.append(FEATURE_STREAM_TYPE, streamOf(id), expected, [{ id: uuidv7(), type, data: checked, at: new Date(this.now()).toISOString() }]);
    } catch (err) {
      if (err instanceof ConcurrencyError) throw new FeatureError('conflict', `feature ${id} was changed at the same time by another request; read it again and retry`);
      throw err;
    }
    const message: FeatureNotice = { type: 'feature-update', event: notice, featureId: id, stream: streamOf(id) };
    this.live.publish(liveSubjects.taskboard.feature, message);
  }

  /** The title's slug, or with a short suffix when taken (or when the title has no letters). */
  private freeId(title: string): string {
    const slug = slugOf(title);
    if (slug && !readFeature(this.log.db, slug)) return slug;
    for (;;) {
      const id = `${slug || 'feature'}-${randomBytes(3).toString('hex')}`;
      if (!readFeature(this.log.db, id)) return id;
    }
  }
}

function dedupe(tasks: readonly TaskRef[]): TaskRef[] {
  const seen = new Set<string>();
  return tasks.filter((t) => {
    const key = `${t.sessionId}/${t.taskId}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
