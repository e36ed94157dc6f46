import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { InProcessLiveBus } from '../../services/bus/in-process.js';
import { TaskBoard } from '../../services/taskboard/index.js';
import { MetadataCache } from '../../services/taskboard/metadata.js';
import { taskRoutePlugin } from '../../gateway/routes/tasks.js';
import { openTempStore, SseClient, startGateway, until, WsClient, type RunningGateway, type StoreFixture } from '../gateway/harness.js';
import { jsonBody, raw } from './helpers.js';

/**
 * The task board over real files in a temp dir. The tasks directory does not exist when the
 * board starts: the board must wait for it (watching its parent) and pick it up.
 */
let fx: StoreFixture;
let board: TaskBoard;
let gw: RunningGateway;
let tasksDir: string;
let projectsDir: string;
let sse: SseClient;

interface LiveData {
  subject: string;
  streamType: string;
  stream?: string;
  data: { type: string; event?: string; sessionId?: string; taskId?: string; file?: string };
}

const live = (): LiveData[] => sse.named('live') as LiveData[];
const task = (id: string, extra: Record<string, unknown> = {}) => JSON.stringify({ id, subject: `task ${id}`, description: 'do it', status: 'pending', blocks: [], blockedBy: [], ...extra });

beforeAll(async () => {
  fx = openTempStore();
  tasksDir = join(fx.dir, 'claude', 'tasks');
  projectsDir = join(fx.dir, 'claude', 'projects');
  const bus = new InProcessLiveBus();
  board = new TaskBoard({ live: bus, tasksDir, projectsDir, debounceMs: 50 });
  await board.start();
  gw = await startGateway({ log: fx.store, live: bus, extraRoutes: [taskRoutePlugin({ board, home: fx.dir })] });
  sse = await SseClient.connect(`${gw.url}/api/events`);
  await until('hello', () => sse.named('hello'), (h) => h.length === 1);
});

afterAll(async () => {
  sse?.close();
  await gw?.close();
  await board?.close();
  fx?.cleanup();
});

describe('watching', () => {
  it('waits for a missing tasks directory, then reports files in it as added (on SSE)', async () => {
    expect(board.watching.tasks).toBe('waiting');
    mkdirSync(join(tasksDir, 'sess-1'), { recursive: true });
    writeFileSync(join(tasksDir, 'sess-1', '1.json'), task('1'));
    const got = await until('an add event', live, (l) => l.some((m) => m.data.event === 'add' && m.data.taskId === '1'));
    expect(board.watching.tasks).toBe('tree');
    const add = got.find((m) => m.data.event === 'add')!;
    expect(add).toMatchObject({ subject: 'flow.live.taskboard.update', streamType: 'taskboard', stream: 'taskboard:sess-1' });
    expect(add.data).toEqual({ type: 'update', event: 'add', sessionId: 'sess-1', taskId: '1', file: '1.json', stream: 'taskboard:sess-1' });
  });

  it('turns a change and a delete into `change` and `delete` events, debounced to one each', async () => {
    writeFileSync(join(tasksDir, 'sess-1', '2.json'), task('2'));
    await until('add of 2', live, (l) => l.some((m) => m.data.event === 'add' && m.data.taskId === '2'));
    const before = live().length;
    for (let i = 0; i < 5; i++) writeFileSync(join(tasksDir, 'sess-1', '2.json'), task('2', { status: i % 2 ? 'in_progress' : 'pending' }));
    await until('change of 2', live, (l) => l.slice(before).some((m) => m.data.event === 'change' && m.data.taskId === '2'));
    rmSync(join(tasksDir, 'sess-1', '2.json'));
    await until('delete of 2', live, (l) => l.slice(before).some((m) => m.data.event === 'delete' && m.data.taskId === '2'));
    const changes = live()
      .slice(before)
      .filter((m) => m.data.event === 'change');
    // Five writes inside the window: at most a couple of reports, never five.
    expect(changes.length).toBeLessThan(5);
  });

  it('ignores files that are not tasks (temp files, other names)', async () => {
    const before = live().length;
    writeFileSync(join(tasksDir, 'sess-1', '.3.json.tmp'), 'x');
    writeFileSync(join(tasksDir, 'sess-1', 'notes.txt'), 'x');
    writeFileSync(join(tasksDir, 'sess-1', '4.json'), task('4'));
    await until('add of 4', live, (l) => l.slice(before).some((m) => m.data.taskId === '4'));
    expect(live().slice(before).map((m) => m.data.file)).toEqual(['4.json']);
  });

  it('reports session log changes as one metadata-update; a WebSocket subscriber gets it too', async () => {
    const ws = await WsClient.connect(gw.url);
    ws.subscribe({ streamType: 'taskboard' });
    await until('ws hello', () => ws.of('hello'), (h) => h.length === 1);
    mkdirSync(join(projectsDir, 'proj-a'), { recursive: true });
    writeFileSync(join(projectsDir, 'proj-a', 'sess-1.jsonl'), `${JSON.stringify({ type: 'user', cwd: '/work/proj-a', slug: 'brave-otter', gitBranch: 'main', timestamp: '2026-01-01T00:00:00Z' })}\n`);
    writeFileSync(join(projectsDir, 'proj-a', 'sess-2.jsonl'), `${JSON.stringify({ type: 'custom-title', customTitle: 'Second' })}\n`);
    await until('metadata-update on SSE', live, (l) => l.some((m) => m.data.type === 'metadata-update'));
    const wsLive = await until('metadata-update on WS', () => ws.messages.filter((m) => (m as { type: string }).type === 'live'), (l) => l.some((m) => (m as unknown as LiveData).data.type === 'metadata-update'));
    expect(wsLive[0]).toMatchObject({ type: 'live', subject: 'flow.live.taskboard.metadata-update', streamType: 'taskboard' });
    ws.close();
  });

  it('a client filtering on another stream type gets no board messages', async () => {
    const other = await SseClient.connect(`${gw.url}/api/events?streamType=backend-child`);
    await until('hello', () => other.named('hello'), (h) => h.length === 1);
    writeFileSync(join(tasksDir, 'sess-1', '5.json'), task('5'));
    await until('add of 5 on the unfiltered client', live, (l) => l.some((m) => m.data.taskId === '5'));
    expect(other.named('live')).toEqual([]);
    other.close();
  });
});

describe('routes', () => {
  it('lists every task with its session, and the sessions with counts and metadata', async () => {
    writeFileSync(join(tasksDir, 'sess-1', '10.json'), task('10', { status: 'completed', blockedBy: ['4'] }));
    const all = jsonBody<{ id: string; sessionId: string }[]>(await raw(gw.url, 'GET', '/api/tasks/all'));
    expect(all.map((t) => `${t.sessionId}/${t.id}`).sort()).toEqual(['sess-1/1', 'sess-1/10', 'sess-1/4', 'sess-1/5']);
    const sessions = jsonBody<{ id: string; taskCount: number; completed: number; pending: number; project: string | null; slug: string | null }[]>(await raw(gw.url, 'GET', '/api/tasks/sessions'));
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({ id: 'sess-1', taskCount: 4, completed: 1, pending: 3, project: '/work/proj-a', slug: 'brave-otter' });
    const tasks = jsonBody<{ id: string }[]>(await raw(gw.url, 'GET', '/api/tasks/sessions/sess-1'));
    // Numeric order: 10 after 5.
    expect(tasks.map((t) => t.id)).toEqual(['1', '4', '5', '10']);
    expect((await raw(gw.url, 'GET', '/api/tasks/sessions/nope')).status).toBe(404);
  });

  it('adds a note to a task\'s description, keeping every other field', async () => {
    writeFileSync(join(tasksDir, 'sess-1', '1.json'), task('1', { owner: 'agent-7' }));
    const res = await raw(gw.url, 'POST', '/api/tasks/sess-1/1/note', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ note: '  check the edge case  ' }) });
    expect(res.status).toBe(200);
    const onDisk = JSON.parse(readFileSync(join(tasksDir, 'sess-1', '1.json'), 'utf8')) as Record<string, unknown>;
    expect(onDisk.description).toBe('do it\n\n---\n\n#### [Note added by user]\n\ncheck the edge case');
    expect(onDisk.owner).toBe('agent-7');
    expect((await raw(gw.url, 'POST', '/api/tasks/sess-1/99/note', { headers: { 'content-type': 'application/json' }, body: '{"note":"x"}' })).status).toBe(404);
    expect((await raw(gw.url, 'POST', '/api/tasks/sess-1/1/note', { headers: { 'content-type': 'application/json' }, body: '{"note":""}' })).status).toBe(400);
  });

  it('deletes a task, but not one another task is blocked by (409)', async () => {
    const blocked = await raw(gw.url, 'DELETE', '/api/tasks/sess-1/4');
    expect(blocked.status).toBe(409);
    expect(jsonBody(blocked).error.message).toMatch(/blocks 10/);
    expect(existsSync(join(tasksDir, 'sess-1', '4.json'))).toBe(true);
    const before = live().length;
    expect((await raw(gw.url, 'DELETE', '/api/tasks/sess-1/10')).status).toBe(200);
    expect(existsSync(join(tasksDir, 'sess-1', '10.json'))).toBe(false);
    await until('delete event for 10', live, (l) => l.slice(before).some((m) => m.data.event === 'delete' && m.data.taskId === '10'));
    expect((await raw(gw.url, 'DELETE', '/api/tasks/sess-1/10')).status).toBe(404);
  });

  it('reads and sets the theme, kept in FLOW_HOME, and announces it', async () => {
    expect(jsonBody<{ theme: string }>(await raw(gw.url, 'GET', '/api/theme')).theme).toBe('aurora');
    const set = await raw(gw.url, 'POST', '/api/theme', { headers: { 'content-type': 'application/json' }, body: '{"theme":"claude"}' });
    expect(jsonBody<{ theme: string; colors: { primary: string } }>(set)).toMatchObject({ theme: 'claude', colors: { primary: expect.any(String) as string } });
    expect(jsonBody<{ theme: string }>(await raw(gw.url, 'GET', '/api/theme')).theme).toBe('claude');
    expect(JSON.parse(readFileSync(join(fx.dir, 'theme.json'), 'utf8'))).toEqual({ theme: 'claude' });
    await until('theme message', live, (l) => l.some((m) => m.data.type === 'theme'));
    expect((await raw(gw.url, 'POST', '/api/theme', { headers: { 'content-type': 'application/json' }, body: '{"theme":"../../etc"}' })).status).toBe(400);
  });

  it('never reads or writes outside the tasks directory: bad ids are 400, links out are 404', async () => {
    const outside = join(fx.dir, 'claude', 'secret.json');
    writeFileSync(outside, task('s', { description: 'secret' }));
    symlinkSync(outside, join(tasksDir, 'sess-1', '77.json'));
    symlinkSync(join(fx.dir, 'claude'), join(tasksDir, 'linked'));
    const secretBefore = readFileSync(outside, 'utf8');
    expect((await raw(gw.url, 'POST', '/api/tasks/sess-1/77/note', { headers: { 'content-type': 'application/json' }, body: '{"note":"pwn"}' })).status).toBe(404);
    expect((await raw(gw.url, 'DELETE', '/api/tasks/sess-1/77')).status).toBe(404);
    expect((await raw(gw.url, 'GET', '/api/tasks/sessions/linked')).status).toBe(404);
    const listed = jsonBody<{ id: string }[]>(await raw(gw.url, 'GET', '/api/tasks/sessions/sess-1'));
    expect(listed.map((t) => t.id)).not.toContain('s');
    for (const bad of ['..', '%2e%2e', '..%2fclaude', 'a.b']) {
      expect((await raw(gw.url, 'GET', `/api/tasks/sessions/${bad}`)).status).toBe(400);
      expect((await raw(gw.url, 'DELETE', `/api/tasks/sess-1/${bad}`)).status).toBe(400);
    }
    expect(readFileSync(outside, 'utf8')).toBe(secretBefore);
  });
});

describe('the session metadata cache', () => {
  it('refreshes at most every 10 s, one refresh at a time, whatever changed in between', async () => {
    const clock = { now: 1_000_000 };
    const cache = new MetadataCache(projectsDir, 10_000, () => clock.now);
    const many = await Promise.all(Array.from({ length: 20 }, () => cache.get()));
    expect(cache.refreshes).toBe(1);
    expect(new Set(many).size).toBe(1);
    expect(many[0]!.get('sess-1')?.slug).toBe('brave-otter');
    writeFileSync(join(projectsDir, 'proj-a', 'sess-3.jsonl'), `${JSON.stringify({ slug: 'third' })}\n`);
    clock.now += 9_999;
    expect((await cache.get()).has('sess-3')).toBe(false);
    expect(cache.refreshes).toBe(1);
    clock.now += 1;
    expect((await cache.get()).get('sess-3')?.slug).toBe('third');
    expect(cache.refreshes).toBe(2);
  });
});

describe('seed 003\'s own board streams (/api/tasks/events, /api/tasks/ws)', () => {
  const seedWs = (url: string) =>
    new Promise<{ socket: WebSocket; messages: unknown[] }>((resolve, reject) => {
      const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/api/tasks/ws`);
      const messages: unknown[] = [];
      socket.on('message', (data) => messages.push(JSON.parse(String(data))));
      socket.once('open', () => resolve({ socket, messages }));
      socket.once('error', reject);
    });

  it('given a seed client, then it gets bare update and metadata-update messages, no envelope, while /api/events keeps its own', async () => {
    const seed = await SseClient.connect(`${gw.url}/api/tasks/events`);
    expect(seed.status).toBe(200);
    const ws = await seedWs(gw.url);
    // A ping answered means the socket's subscription is in place.
    ws.socket.send('ping');
    // A board change from an earlier test may still arrive on the fresh socket: look for the pong among them.
    await until('pong', () => ws.messages, (m) => m.some((x) => (x as { type?: string }).type === 'pong'));
    expect(ws.messages.filter((x) => (x as { type?: string }).type === 'pong')).toEqual([{ type: 'pong' }]);

    writeFileSync(join(tasksDir, 'sess-1', 'seed1.json'), task('seed1'));
    const sseGot = await until('a seed update on SSE', () => seed.messages, (m) => m.some((x) => x.data.includes('seed1')));
    const update = sseGot.find((x) => x.data.includes('seed1'))!;
    expect(update.event).toBeUndefined();
    expect(update.id).toBeUndefined();
    expect(JSON.parse(update.data)).toEqual({ type: 'update', event: 'add', sessionId: 'sess-1', file: 'seed1.json' });
    const wsGot = await until('a seed update on WS', () => ws.messages, (m) => m.some((x) => (x as { file?: string }).file === 'seed1.json'));
    expect(wsGot.find((x) => (x as { file?: string }).file === 'seed1.json')).toEqual({ type: 'update', event: 'add', sessionId: 'sess-1', file: 'seed1.json' });
    // Flow's stream still has the envelope shape, with the task id and the stream.
    await until('the same change on /api/events', live, (l) => l.some((m) => m.data.file === 'seed1.json' && m.data.taskId === 'seed1'));

    writeFileSync(join(tasksDir, 'sess-1', 'seed1.json'), task('seed1', { status: 'completed' }));
    await until('a change', () => seed.messages.map((m) => JSON.parse(m.data) as { event?: string; file?: string }), (m) => m.some((x) => x.event === 'change' && x.file === 'seed1.json'));
    rmSync(join(tasksDir, 'sess-1', 'seed1.json'));
    // The seed has no `delete`: a client reloads on `change` and sees the task gone.
    await until('the delete as a change', () => seed.messages.map((m) => JSON.parse(m.data) as { event?: string; file?: string }), (m) => m.filter((x) => x.event === 'change' && x.file === 'seed1.json').length >= 2);

    writeFileSync(join(projectsDir, 'proj-a', 'sess-4.jsonl'), `${JSON.stringify({ slug: 'fourth' })}\n`);
    await until('metadata-update on the seed SSE', () => seed.messages.map((m) => m.data), (d) => d.includes('{"type":"metadata-update"}'));
    await until('metadata-update on the seed WS', () => ws.messages, (m) => m.some((x) => JSON.stringify(x) === '{"type":"metadata-update"}'));
    expect(seed.messages.every((m) => !m.data.includes('"stream"') && !m.data.includes('"subject"'))).toBe(true);
    seed.close();
    ws.socket.close();
  });

  it('given a seed client\'s pings as JSON or other text, then JSON pings are answered and anything else is ignored', async () => {
    const ws = await seedWs(gw.url);
    ws.socket.send('hello');
    ws.socket.send(JSON.stringify({ type: 'ping' }));
    await until('pong', () => ws.messages, (m) => m.some((x) => (x as { type?: string }).type === 'pong'));
    // Board changes (updates) may arrive meanwhile; what must not come is an answer to "hello".
    const answers = ws.messages.filter((x) => !['update', 'metadata-update', 'feature-update'].includes((x as { type?: string }).type ?? ''));
    expect(answers).toEqual([{ type: 'pong' }]);
    ws.socket.close();
  });

  it('given a plain GET of the WebSocket, then 426 says to upgrade', async () => {
    const res = await raw(gw.url, 'GET', '/api/tasks/ws');
    expect(res.status).toBe(426);
    expect(res.headers.upgrade).toBe('websocket');
  });
});
