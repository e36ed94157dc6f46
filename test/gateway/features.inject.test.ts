import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { featureRoutePlugin } from '../../gateway/routes/features.js';
import { featuresEnabled } from '../../infra/config.js';
import { liveSubjects } from '../../services/bus/names.js';
import { FeatureProjector, FeatureService, slugOf } from '../../services/features/index.js';
import { readFeatures } from '../../services/features/projection.js';
import { TaskBoard } from '../../services/taskboard/index.js';
import type { SqliteEventStore } from '../../services/store/event-store.js';
import { injectGateway, type InjectedGateway } from './inject.js';

/**
 * Seed 003's `/api/features/*`: features that group board tasks, each an event-sourced stream
 * `feature:<id>` in Flow's log with a projection, on when FLOW_FEATURES=1.
 */
interface Feature {
  id: string;
  title: string;
  description: string;
  status: string;
  tasks: { sessionId: string; taskId: string; task?: { subject?: string; status?: string } | null }[];
  version: number;
  progress?: Record<string, number>;
}
interface ErrorBody {
  error: { code: string; message: string };
}

describe('the features API, on', () => {
  let gw: InjectedGateway;
  let store: SqliteEventStore;
  let board: TaskBoard;
  const heard: unknown[] = [];

  beforeAll(async () => {
    gw = await injectGateway({
      routes: ({ store: s, live, dir }) => {
        store = s;
        const tasksDir = join(dir, 'tasks');
        mkdirSync(join(tasksDir, 'sess-1'), { recursive: true });
        writeFileSync(join(tasksDir, 'sess-1', '1.json'), JSON.stringify({ id: '1', subject: 'log in form', status: 'completed' }));
        writeFileSync(join(tasksDir, 'sess-1', '2.json'), JSON.stringify({ id: '2', subject: 'token check', status: 'in_progress' }));
        board = new TaskBoard({ live, tasksDir, projectsDir: join(dir, 'projects') });
        live.subscribe(liveSubjects.taskboard.all, (m) => heard.push(m.data));
        return [featureRoutePlugin({ on: new FeatureService(s, live) }, board)];
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await board?.close();
  });

  it('given a new feature, then it is created from its title (201), with defaults, and listed', async () => {
    const created = await gw.call<Feature>('POST', '/api/features', { title: 'Login page', tasks: [{ sessionId: 'sess-1', taskId: '1' }, { sessionId: 'sess-1', taskId: '2' }, { sessionId: 'sess-1', taskId: '1' }] });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: 'login-page', title: 'Login page', description: '', status: 'pending', version: 1 });
    // The same task twice is grouped once.
    expect(created.body.tasks).toEqual([{ sessionId: 'sess-1', taskId: '1' }, { sessionId: 'sess-1', taskId: '2' }]);
    const list = await gw.call<Feature[]>('GET', '/api/features');
    expect(list.body.map((f) => f.id)).toEqual(['login-page']);
  });

  it('given a feature, then GET shows it with its tasks as the board has them, and its progress', async () => {
    const res = await gw.call<Feature>('GET', '/api/features/login-page');
    expect(res.status).toBe(200);
    expect(res.body.tasks.map((t) => [t.taskId, t.task?.subject, t.task?.status])).toEqual([
      ['1', 'log in form', 'completed'],
      ['2', 'token check', 'in_progress'],
    ]);
    expect(res.body.progress).toEqual({ total: 2, completed: 1, inProgress: 1, pending: 0, missing: 0 });
  });

  it('given a task that is gone, then it is shown as missing, not as an error', async () => {
    await gw.call('POST', '/api/features', { id: 'ghosts', title: 'Ghosts', tasks: [{ sessionId: 'no-such-session', taskId: '9' }] });
    const res = await gw.call<Feature>('GET', '/api/features/ghosts');
    expect(res.status).toBe(200);
    expect(res.body.tasks).toEqual([{ sessionId: 'no-such-session', taskId: '9', task: null }]);
    expect(res.body.progress).toMatchObject({ total: 1, missing: 1 });
  });

  it('given a status update, then it is one FEATURE_UPDATED event on the feature\'s stream with only what changed; a repeat writes nothing', async () => {
    const res = await gw.call<Feature>('PATCH', '/api/features/login-page', { status: 'in_progress' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'in_progress', version: 2 });
    const again = await gw.call<Feature>('PATCH', '/api/features/login-page', { status: 'in_progress' });
    expect(again.body.version).toBe(2);
    const events = store.readStream('feature:login-page');
    expect(events.map((e) => [e.type, e.streamType, e.data])).toEqual([
      ['FEATURE_CREATED', 'feature', { title: 'Login page', description: '', status: 'pending', tasks: [{ sessionId: 'sess-1', taskId: '1' }, { sessionId: 'sess-1', taskId: '2' }] }],
      ['FEATURE_UPDATED', 'feature', { status: 'in_progress' }],
    ]);
  });

  it('given each change, then board clients hear it on the board\'s live subject, next to the task files\' updates', () => {
    expect(heard).toContainEqual({ type: 'feature-update', event: 'add', featureId: 'login-page', stream: 'feature:login-page' });
    expect(heard).toContainEqual({ type: 'feature-update', event: 'change', featureId: 'login-page', stream: 'feature:login-page' });
  });

  it('given bad input, then 400 saying what is wrong; an unknown feature is 404; a taken id is 409', async () => {
    const cases: [string, string, unknown, number, RegExp][] = [
      ['POST', '/api/features', { title: '' }, 400, /title/],
      ['POST', '/api/features', { title: 'x', status: 'done-ish' }, 400, /status/],
      ['POST', '/api/features', { title: 'x', tasks: [{ sessionId: '../etc', taskId: '1' }] }, 400, /session id/],
      ['POST', '/api/features', { title: 'x', id: 'Upper Case' }, 400, /feature id/],
      ['POST', '/api/features', { title: 'x', extra: 1 }, 400, /extra/],
      ['PATCH', '/api/features/login-page', {}, 400, /at least one/],
      ['PATCH', '/api/features/nope', { status: 'completed' }, 404, /no feature nope/],
      ['GET', '/api/features/nope', undefined, 404, /no feature nope/],
      ['GET', '/api/features/..%2f..', undefined, 400, /feature id/],
      ['POST', '/api/features', { id: 'login-page', title: 'Again' }, 409, /exists already/],
    ];
    for (const [method, url, body, status, message] of cases) {
      const res = await gw.call<ErrorBody>(method as 'POST', url, body);
      expect(res.status, `${method} ${url} ${JSON.stringify(body)}`).toBe(status);
      expect(res.body.error.message).toMatch(message);
    }
  });

  it('given a title that is taken as an id, then the new feature gets a suffix', async () => {
    const res = await gw.call<Feature>('POST', '/api/features', { title: 'Login Page!' });
    expect(res.body.id).toMatch(/^login-page-[0-9a-f]{6}$/);
    expect(slugOf('  Ünïcode & spaces  ')).toBe('unicode-spaces');
  });

  it('given a delete, then the feature is gone (404), its stream keeps the history, and the id can be used again', async () => {
    const del = await gw.call('DELETE', '/api/features/ghosts');
    expect(del).toEqual({ status: 200, body: { success: true, id: 'ghosts' } });
    expect((await gw.call('GET', '/api/features/ghosts')).status).toBe(404);
    expect((await gw.call('DELETE', '/api/features/ghosts')).status).toBe(404);
    expect(store.readStream('feature:ghosts').map((e) => e.type)).toEqual(['FEATURE_CREATED', 'FEATURE_DELETED']);
    const again = await gw.call<Feature>('POST', '/api/features', { id: 'ghosts', title: 'Ghosts again' });
    expect(again.body).toMatchObject({ id: 'ghosts', version: 3 });
    expect(heard).toContainEqual({ type: 'feature-update', event: 'delete', featureId: 'ghosts', stream: 'feature:ghosts' });
  });

  it('given the projection dropped, then a rebuild from the log gives the same features', () => {
    const before = readFeatures(store.db);
    store.rebuild();
    expect(readFeatures(store.db)).toEqual(before);
    const p = new FeatureProjector();
    p.reset(store.db);
    expect(readFeatures(store.db)).toEqual([]);
    p.apply(store.db, store.readAll(0, 10_000));
    expect(readFeatures(store.db)).toEqual(before);
  });

  it('given two changes decided on the same version, then the second is a 409 and writes nothing', () => {
    const features = new FeatureService(store, { publish: () => {}, subscribe: () => () => {}, close: () => {} } as never);
    const version = store.streamVersion('feature:login-page');
    // Another writer appends between this service's read and its write.
    const realAppend = store.append.bind(store);
    let raced = false;
    const racing = {
      db: store.db,
      streamVersion: (id: string) => store.streamVersion(id),
      append: (...args: Parameters<typeof store.append>) => {
        if (!raced) {
          raced = true;
          realAppend('feature', 'feature:login-page', version, [{ id: '0190a5c8-0000-7000-8000-000000000001', type: 'FEATURE_UPDATED', data: { title: 'Renamed elsewhere' }, at: new Date().toISOString() }]);
        }
        return realAppend(...args);
      },
    };
    const racer = new FeatureService(racing, { publish: () => {}, subscribe: () => () => {}, close: () => {} } as never);
    expect(() => racer.update('login-page', { status: 'completed' })).toThrow(/changed at the same time/);
    expect(features.get('login-page')).toMatchObject({ title: 'Renamed elsewhere', status: 'in_progress', version: version + 1 });
  });
});

describe('the features API, off', () => {
  let gw: InjectedGateway;
  beforeAll(async () => {
    gw = await injectGateway({ routes: ({ live, dir }) => [featureRoutePlugin({ off: 'disabled' }, new TaskBoard({ live, tasksDir: join(dir, 't'), projectsDir: join(dir, 'p') }))] });
  });
  afterAll(() => gw?.close());

  it('given FLOW_FEATURES unset, then every features route is 404 saying how to turn it on', async () => {
    for (const [method, url] of [['GET', '/api/features'], ['POST', '/api/features'], ['GET', '/api/features/x'], ['DELETE', '/api/features/x']] as const) {
      const res = await gw.call<ErrorBody>(method, url, method === 'POST' ? { title: 'x' } : undefined);
      expect(res.status).toBe(404);
      expect(res.body.error.message).toMatch(/FLOW_FEATURES=1/);
    }
  });

  it('reads FLOW_FEATURES: 1 or true is on, anything else unset or off, and a bad value says what it must be', () => {
    expect(featuresEnabled({})).toBe(false);
    expect(featuresEnabled({ FLOW_FEATURES: '1' })).toBe(true);
    expect(featuresEnabled({ FLOW_FEATURES: 'true' })).toBe(true);
    expect(featuresEnabled({ FLOW_FEATURES: '0' })).toBe(false);
    expect(() => featuresEnabled({ FLOW_FEATURES: 'yes please' })).toThrow(/FLOW_FEATURES is 1 \(on\) or 0 \(off\)/);
  });
});
