import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { InProcessLiveBus } from '../../services/bus/in-process.js';
import { TaskBoard, TASKBOARD_SUBJECTS, type TaskUpdate } from '../../services/taskboard/index.js';
import { taskRoutePlugin } from '../../gateway/routes/tasks.js';
import { openTempStore, startGateway, until, type RunningGateway, type StoreFixture } from '../gateway/harness.js';
import { jsonBody, raw } from '../gateway-full/helpers.js';

/**
 * Item 11 of issue 11: the task board never reads, writes or deletes through a link out of
 * its roots (the tasks and projects directories), never deletes or rewrites the target of a
 * link, and its watcher does not follow links out either. Real files in a temp dir, a real
 * gateway; the board's notes go to the same log line sink `f up` gives it.
 */
let fx: StoreFixture;
let board: TaskBoard;
let gw: RunningGateway;
let root: string;
let tasksDir: string;
let projectsDir: string;
let outside: string;
const notes: string[] = [];
const updates: TaskUpdate[] = [];

const task = (id: string, extra: Record<string, unknown> = {}) => JSON.stringify({ id, subject: `task ${id}`, description: 'do it', status: 'pending', blocks: [], blockedBy: [], ...extra });
const json = { 'content-type': 'application/json' };

beforeAll(async () => {
  fx = openTempStore();
  root = join(fx.dir, 'claude');
  tasksDir = join(root, 'tasks');
  projectsDir = join(root, 'projects');
  outside = join(fx.dir, 'elsewhere');
  for (const d of [join(tasksDir, 'victim'), join(tasksDir, 'attacker'), join(projectsDir, 'proj'), outside]) mkdirSync(d, { recursive: true });
  writeFileSync(join(tasksDir, 'victim', '1.json'), task('1', { description: 'the victim\'s own task' }));
  writeFileSync(join(tasksDir, 'victim', '2.json'), task('2'));
  writeFileSync(join(outside, 'secret.json'), task('s', { description: 'secret outside the tasks dir' }));
  const bus = new InProcessLiveBus();
  bus.subscribe(`${TASKBOARD_SUBJECTS.update}`, (m) => updates.push(m.data as TaskUpdate));
  // No metadata cache: each request reads the projects directory as it is now.
  board = new TaskBoard({ live: bus, tasksDir, projectsDir, debounceMs: 30, metadataMaxAgeMs: 0, onError: (e) => notes.push(String(e)) });
  await board.start();
  gw = await startGateway({ log: fx.store, live: bus, extraRoutes: [taskRoutePlugin({ board, home: fx.dir })] });
});

afterAll(async () => {
  await gw?.close();
  await board?.close();
  fx?.cleanup();
});

describe('a task file that is a link to another session\'s task', () => {
  it('given attacker/1.json -> ../victim/1.json, when it is deleted, then the link goes and the victim\'s task stays', async () => {
    const link = join(tasksDir, 'attacker', '1.json');
    symlinkSync(join('..', 'victim', '1.json'), link);
    const victimBefore = readFileSync(join(tasksDir, 'victim', '1.json'), 'utf8');
    const res = await raw(gw.url, 'DELETE', '/api/tasks/attacker/1');
    expect(res.status).toBe(200);
    expect(existsSync(join(tasksDir, 'victim', '1.json'))).toBe(true);
    expect(readFileSync(join(tasksDir, 'victim', '1.json'), 'utf8')).toBe(victimBefore);
    expect(() => lstatSync(link)).toThrow(/ENOENT/);
  });

  it('given attacker/2.json -> ../victim/2.json, when a note is added to it, then 409 and the victim\'s task is unchanged', async () => {
    symlinkSync(join('..', 'victim', '2.json'), join(tasksDir, 'attacker', '2.json'));
    const before = readFileSync(join(tasksDir, 'victim', '2.json'), 'utf8');
    const res = await raw(gw.url, 'POST', '/api/tasks/attacker/2/note', { headers: json, body: '{"note":"written through the link"}' });
    expect(res.status).toBe(409);
    expect(jsonBody(res).error.message).toMatch(/link/);
    expect(readFileSync(join(tasksDir, 'victim', '2.json'), 'utf8')).toBe(before);
    expect(lstatSync(join(tasksDir, 'attacker', '2.json')).isSymbolicLink()).toBe(true);
  });

  it('given a task link out of the tasks dir, then it is not listed, not noted, not deleted, and the skip is logged', async () => {
    const secret = join(outside, 'secret.json');
    symlinkSync(secret, join(tasksDir, 'attacker', '77.json'));
    const before = readFileSync(secret, 'utf8');
    const listed = jsonBody<{ id: string; description?: string }[]>(await raw(gw.url, 'GET', '/api/tasks/sessions/attacker'));
    expect(listed.map((t) => t.description)).not.toContain('secret outside the tasks dir');
    const all = jsonBody<{ description?: string }[]>(await raw(gw.url, 'GET', '/api/tasks/all'));
    expect(all.map((t) => t.description)).not.toContain('secret outside the tasks dir');
    expect((await raw(gw.url, 'POST', '/api/tasks/attacker/77/note', { headers: json, body: '{"note":"pwn"}' })).status).toBe(404);
    expect((await raw(gw.url, 'DELETE', '/api/tasks/attacker/77')).status).toBe(404);
    expect(readFileSync(secret, 'utf8')).toBe(before);
    expect(notes.some((n) => n.includes(join(tasksDir, 'attacker', '77.json')) && /outside/.test(n))).toBe(true);
  });
});

describe('a session directory that is a link', () => {
  it('given alias -> victim (inside the tasks dir), then alias is no session: a delete through it is 404 and the victim\'s tasks stay', async () => {
    writeFileSync(join(tasksDir, 'victim', '3.json'), task('3'));
    symlinkSync('victim', join(tasksDir, 'alias'));
    expect((await raw(gw.url, 'DELETE', '/api/tasks/alias/3')).status).toBe(404);
    expect(existsSync(join(tasksDir, 'victim', '3.json'))).toBe(true);
    expect((await raw(gw.url, 'POST', '/api/tasks/alias/3/note', { headers: json, body: '{"note":"x"}' })).status).toBe(404);
    expect((await raw(gw.url, 'GET', '/api/tasks/sessions/alias')).status).toBe(404);
    const sessions = jsonBody<{ id: string }[]>(await raw(gw.url, 'GET', '/api/tasks/sessions?limit=all'));
    expect(sessions.map((s) => s.id)).not.toContain('alias');
  });

  it('given out -> a directory outside, then nothing in it is read, and the watcher does not follow it', async () => {
    const away = join(outside, 'away');
    mkdirSync(away);
    writeFileSync(join(away, '5.json'), task('5', { description: 'outside session' }));
    symlinkSync(away, join(tasksDir, 'out'));
    expect((await raw(gw.url, 'GET', '/api/tasks/sessions/out')).status).toBe(404);
    const all = jsonBody<{ sessionId: string }[]>(await raw(gw.url, 'GET', '/api/tasks/all'));
    expect(all.map((t) => t.sessionId)).not.toContain('out');
    // A change under the link target, then one in the tree: once the second is reported, the first would have been.
    await new Promise((r) => setTimeout(r, 200));
    writeFileSync(join(away, '6.json'), task('6'));
    writeFileSync(join(away, '5.json'), task('5', { status: 'completed' }));
    writeFileSync(join(tasksDir, 'victim', '9.json'), task('9'));
    await until('the in-tree change', () => updates, (u) => u.some((m) => m.sessionId === 'victim' && m.taskId === '9'));
    await new Promise((r) => setTimeout(r, 200));
    expect(updates.filter((m) => m.sessionId === 'out')).toEqual([]);
  });
});

describe('session logs in the projects directory', () => {
  it('given a .jsonl link out of the projects dir, then its content is not read (no title leaks), and the skip is logged', async () => {
    mkdirSync(join(tasksDir, 'sess-x'));
    writeFileSync(join(tasksDir, 'sess-x', '1.json'), task('1'));
    const secretLog = join(outside, 'secret.jsonl');
    writeFileSync(secretLog, `${JSON.stringify({ type: 'custom-title', customTitle: 'SECRET-TITLE', cwd: '/secret/project', slug: 'secret-slug' })}\n`);
    symlinkSync(secretLog, join(projectsDir, 'proj', 'sess-x.jsonl'));
    const sessions = jsonBody<{ id: string; name: string | null; project: string | null; slug: string | null }[]>(await raw(gw.url, 'GET', '/api/tasks/sessions?limit=all'));
    const x = sessions.find((s) => s.id === 'sess-x');
    expect(x).toMatchObject({ name: null, project: null, slug: null });
    const all = jsonBody<{ sessionId: string; sessionName: string | null }[]>(await raw(gw.url, 'GET', '/api/tasks/all'));
    expect(all.filter((t) => t.sessionId === 'sess-x').map((t) => t.sessionName)).toEqual([null]);
    expect(notes.some((n) => n.includes(join(projectsDir, 'proj', 'sess-x.jsonl')) && /outside/.test(n))).toBe(true);
  });

  it('given a sessions-index.json link out, or a project directory that is a link out, then neither is read', async () => {
    const fresh = new TaskBoard({ live: new InProcessLiveBus(), tasksDir, projectsDir, onError: (e) => notes.push(String(e)) });
    mkdirSync(join(tasksDir, 'sess-y'));
    writeFileSync(join(tasksDir, 'sess-y', '1.json'), task('1'));
    writeFileSync(join(projectsDir, 'proj', 'sess-y.jsonl'), `${JSON.stringify({ slug: 'honest' })}\n`);
    writeFileSync(join(outside, 'index.json'), JSON.stringify({ entries: [{ sessionId: 'sess-y', description: 'SECRET-DESCRIPTION', gitBranch: 'secret' }] }));
    symlinkSync(join(outside, 'index.json'), join(projectsDir, 'proj', 'sessions-index.json'));
    const linkedProject = join(outside, 'linked-project');
    mkdirSync(linkedProject);
    writeFileSync(join(linkedProject, 'sess-z.jsonl'), `${JSON.stringify({ slug: 'SECRET-Z' })}\n`);
    symlinkSync(linkedProject, join(projectsDir, 'linked'));
    const meta = await fresh.metadata.get();
    expect(meta.get('sess-y')).toMatchObject({ slug: 'honest', description: null, gitBranch: null });
    expect(meta.has('sess-z')).toBe(false);
    await fresh.close();
  });

  it('a link that stays inside its root is followed: a .jsonl linked from another project is read', async () => {
    const fresh = new TaskBoard({ live: new InProcessLiveBus(), tasksDir, projectsDir });
    mkdirSync(join(projectsDir, 'other'));
    writeFileSync(join(projectsDir, 'other', 'real.jsonl'), `${JSON.stringify({ slug: 'linked-inside' })}\n`);
    symlinkSync(join('..', 'other', 'real.jsonl'), join(projectsDir, 'proj', 'sess-in.jsonl'));
    expect((await fresh.metadata.get()).get('sess-in')?.slug).toBe('linked-inside');
    await fresh.close();
  });
});

describe('files that are not plain files', () => {
  it('given a FIFO named like a task, then listing skips it instead of hanging on it', async () => {
    execFileSync('mkfifo', [join(tasksDir, 'victim', '50.json')]);
    const res = await raw(gw.url, 'GET', '/api/tasks/sessions/victim');
    expect(res.status).toBe(200);
    expect(jsonBody<{ id: string }[]>(res).map((t) => t.id)).not.toContain('50');
    expect((await raw(gw.url, 'POST', '/api/tasks/victim/50/note', { headers: json, body: '{"note":"x"}' })).status).toBe(404);
  });
});

describe('ids from the API', () => {
  it('".." and separators in session ids and task ids, in any encoding, are 400 and touch nothing', async () => {
    for (const bad of ['..', '%2e%2e', '.%2E', '..%2f..%2fetc', '%2e%2e%5cx', 'a.b', '1.json', '%00']) {
      expect({ bad, status: (await raw(gw.url, 'GET', `/api/tasks/sessions/${bad}`)).status }).toEqual({ bad, status: 400 });
      expect({ bad, status: (await raw(gw.url, 'DELETE', `/api/tasks/victim/${bad}`)).status }).toEqual({ bad, status: 400 });
      expect({ bad, status: (await raw(gw.url, 'DELETE', `/api/tasks/${bad}/2`)).status }).toEqual({ bad, status: 400 });
      expect({ bad, status: (await raw(gw.url, 'POST', `/api/tasks/victim/${bad}/note`, { headers: json, body: '{"note":"x"}' })).status }).toEqual({ bad, status: 400 });
    }
    expect(existsSync(join(tasksDir, 'victim', '2.json'))).toBe(true);
  });
});

describe('roots that are themselves links', () => {
  it('given a tasks directory that is a link to a real one, then the board lists and watches it as usual', async () => {
    const realTasks = join(fx.dir, 'real-tasks');
    mkdirSync(join(realTasks, 's1'), { recursive: true });
    writeFileSync(join(realTasks, 's1', '1.json'), task('1'));
    const linkedTasks = join(fx.dir, 'linked-tasks');
    symlinkSync(realTasks, linkedTasks);
    const bus = new InProcessLiveBus();
    const seen: TaskUpdate[] = [];
    bus.subscribe(TASKBOARD_SUBJECTS.update, (m) => seen.push(m.data as TaskUpdate));
    const linked = new TaskBoard({ live: bus, tasksDir: linkedTasks, projectsDir, debounceMs: 30 });
    await linked.start();
    try {
      expect((await linked.files.sessionTasks('s1')).map((t) => t.id)).toEqual(['1']);
      writeFileSync(join(realTasks, 's1', '2.json'), task('2'));
      const got = await until('the add through the linked root', () => seen, (u) => u.some((m) => m.taskId === '2'));
      expect(got.find((m) => m.taskId === '2')).toMatchObject({ sessionId: 's1', event: 'add', file: '2.json' });
      await linked.files.deleteTask('s1', '2');
      expect(existsSync(join(realTasks, 's1', '2.json'))).toBe(false);
    } finally {
      await linked.close();
    }
  });

  it('given a tasks directory that appears later, as a link, then the board picks it up', async () => {
    const realTasks = join(fx.dir, 'real-later');
    mkdirSync(join(realTasks, 's2'), { recursive: true });
    const later = join(fx.dir, 'later', 'tasks');
    mkdirSync(join(fx.dir, 'later'));
    const bus = new InProcessLiveBus();
    const seen: TaskUpdate[] = [];
    bus.subscribe(TASKBOARD_SUBJECTS.update, (m) => seen.push(m.data as TaskUpdate));
    const lateBoard = new TaskBoard({ live: bus, tasksDir: later, projectsDir, debounceMs: 30 });
    await lateBoard.start();
    try {
      expect(lateBoard.watching.tasks).toBe('waiting');
      symlinkSync(realTasks, later);
      await until('the board to watch the linked tree', () => lateBoard.watching.tasks, (m) => m === 'tree');
      // Rewritten until reported (a change counts too): the watcher may be a moment behind its mode.
      let n = 0;
      await until('an add in the linked tree', () => {
        if (n++ % 50 === 0) writeFileSync(join(realTasks, 's2', '1.json'), task('1', { n }));
        return seen;
      }, (u) => u.some((m) => m.sessionId === 's2' && m.taskId === '1'));
    } finally {
      await lateBoard.close();
    }
  });
});
