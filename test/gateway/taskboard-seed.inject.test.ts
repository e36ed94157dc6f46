import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { taskRoutePlugin } from '../../gateway/routes/tasks.js';
import { InProcessLiveBus } from '../../services/bus/in-process.js';
import { TaskBoard, taskboardDirs } from '../../services/taskboard/index.js';
import { tempDir } from '../support/tmp.js';
import { injectGateway, type InjectedGateway } from './inject.js';

/** Seed 003's configuration names, and its rule that a bad task file is a 400 (serde's JsonError), never a 500. */
describe('the seed\'s directory names', () => {
  it('given only TASKS_DIR and PROJECTS_DIR, then the board reads there', () => {
    expect(taskboardDirs({ TASKS_DIR: '/srv/tasks', PROJECTS_DIR: '/srv/projects' })).toEqual({ tasksDir: '/srv/tasks', projectsDir: '/srv/projects' });
  });

  it('given both names, then the FLOW_ ones win; given neither (or empty), then ~/.claude', () => {
    expect(taskboardDirs({ FLOW_TASKS_DIR: '/a', TASKS_DIR: '/b', FLOW_PROJECTS_DIR: '/c', PROJECTS_DIR: '/d' })).toEqual({ tasksDir: '/a', projectsDir: '/c' });
    expect(taskboardDirs({ TASKS_DIR: '' })).toEqual({ tasksDir: join(homedir(), '.claude', 'tasks'), projectsDir: join(homedir(), '.claude', 'projects') });
  });
});

describe('a corrupt task file', () => {
  const tmp = tempDir('flow-board-corrupt-');
  const tasksDir = join(tmp.dir, 'tasks');
  let board: TaskBoard;
  let gw: InjectedGateway;

  beforeAll(async () => {
    mkdirSync(join(tasksDir, 'sess-1'), { recursive: true });
    writeFileSync(join(tasksDir, 'sess-1', '1.json'), JSON.stringify({ id: '1', subject: 'fine', status: 'pending' }));
    writeFileSync(join(tasksDir, 'sess-1', '2.json'), '{"id": "2", "subject": "cut off');
    writeFileSync(join(tasksDir, 'sess-1', '3.json'), JSON.stringify({ id: { nested: true } }));
    const live = new InProcessLiveBus();
    board = new TaskBoard({ live, tasksDir, projectsDir: join(tmp.dir, 'projects') });
    gw = await injectGateway({ live, extraRoutes: [taskRoutePlugin({ board, home: tmp.dir })] });
  });
  afterAll(async () => {
    await gw?.close();
    await board?.close();
    tmp.cleanup();
  });

  it('given a session with a file that is not JSON, then its tasks answer 400 naming the file, not 500', async () => {
    const res = await gw.call<{ error: { code: string; message: string } }>('GET', '/api/tasks/sessions/sess-1');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid');
    expect(res.body.error.message).toMatch(/the task file \S+sess-1\/[23]\.json is corrupt/);
  });

  it('given a note for the corrupt task, then 400 naming its file (not "no such task")', async () => {
    const res = await gw.call<{ error: { message: string } }>('POST', '/api/tasks/sess-1/2/note', { note: 'hi' });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain(join(tasksDir, 'sess-1', '2.json'));
    expect(res.body.error.message).toMatch(/not JSON/);
  });

  it('given valid JSON that is not a task, then the message says which field is wrong', async () => {
    const res = await gw.call<{ error: { message: string } }>('POST', '/api/tasks/sess-1/3/note', { note: 'hi' });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/3\.json is corrupt: it is not a task \(id: /);
  });

  it('given the board-wide views, then the corrupt files are skipped and the good task is still shown', async () => {
    const all = await gw.call<{ id: string }[]>('GET', '/api/tasks/all');
    expect(all.status).toBe(200);
    expect(all.body.map((t) => t.id)).toEqual(['1']);
    const sessions = await gw.call<{ id: string; taskCount: number }[]>('GET', '/api/tasks/sessions');
    expect(sessions.body).toMatchObject([{ id: 'sess-1', taskCount: 1 }]);
  });

  it('given the corrupt task, then it can be deleted (the way to repair the session)', async () => {
    const res = await gw.call('DELETE', '/api/tasks/sess-1/2');
    expect(res.status).toBe(200);
  });
});
