import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { json, requireBuild, startFlow, until, type FlowProcess } from '../support/flow-process.js';
import { tempDir } from '../support/tmp.js';
import { launchBrowser, openPage, screenshot } from './browser.js';
import { freePort } from '../../services/host/ports.js';

/**
 * The task board against real task files; tunnels through the cloudflared stand-in to a real
 * backend; and the other pages rendering against a real Flow.
 */
const FAKE_CLOUDFLARED = join(process.cwd(), 'test/fixtures/fake-cloudflared.mjs');
const ECHO_SERVER = join(process.cwd(), 'test/fixtures/echo-server.mjs');
const SESSION = '3f2b8c1e-5d4a-4e6b-9c7d-0a1b2c3d4e5f';

let browser: Browser;
let flow: FlowProcess;
let home: ReturnType<typeof tempDir>;
let claude: ReturnType<typeof tempDir>;
let sessionDir: string;


function writeTask(id: string, task: Record<string, unknown>): void {
  writeFileSync(join(sessionDir, `${id}.json`), JSON.stringify({ id, ...task }, null, 2));
}

beforeAll(async () => {
  requireBuild();
  home = tempDir('flow-browser-pages-');
  claude = tempDir('flow-browser-claude-');
  sessionDir = join(claude.dir, 'tasks', SESSION);
  mkdirSync(sessionDir, { recursive: true });
  mkdirSync(join(claude.dir, 'projects'), { recursive: true });
  writeTask('1', { subject: 'Sketch the schema', description: 'Tables for runs and events', status: 'completed', blocks: ['2'], blockedBy: [] });
  writeTask('2', { subject: 'Write the migration', activeForm: 'Writing the migration', status: 'in_progress', blocks: [], blockedBy: ['1'] });
  writeTask('3', { subject: 'Backfill old rows', status: 'pending', blocks: [], blockedBy: ['2'] });
  [browser, flow] = await Promise.all([
    launchBrowser(),
    startFlow(home.dir, {
      FLOW_TASKS_DIR: join(claude.dir, 'tasks'),
      FLOW_PROJECTS_DIR: join(claude.dir, 'projects'),
      // The command is the whole argv; {port} is the tunnelled port.
      FLOW_TUNNEL_COMMAND: JSON.stringify([process.execPath, FAKE_CLOUDFLARED, 'tunnel', '--url', 'http://localhost:{port}', '--no-autoupdate']),
      FLOW_TUNNEL_RESOLVE_DIR: join(home.dir, 'tunnel-resolve'),
    }),
  ]);
});

afterAll(async () => {
  await browser?.close();
  if (flow && flow.proc.exitCode === null && flow.proc.signalCode === null) {
    flow.proc.kill('SIGTERM');
    await flow.exited;
  }
  claude?.cleanup();
  home?.cleanup();
});

describe('the dashboard: task board and the other pages', () => {
  // One retry: it once stalled under a fully loaded CI run and never in isolation; it starts
  // from its own files, so a second attempt tests the same thing (two failures fail the run).
  it('shows tasks in their columns, follows file changes, adds a note and deletes a task', { retry: 1 }, async () => {
    writeTask('3', { subject: 'Backfill old rows', status: 'pending', blocks: [], blockedBy: ['2'] });
    rmSync(join(sessionDir, '4.json'), { force: true });
    const { context, page, errors } = await openPage(browser, `${flow.url}/#/tasks`);
    try {
      await page.locator('[data-column="completed"] [data-task="1"]').waitFor();
      await page.locator('[data-column="in_progress"] [data-task="2"]').waitFor();
      await page.locator('[data-column="pending"] [data-task="3"]').waitFor();
      await page.locator('[data-testid="connection"] [data-state="live"]').waitFor();

      // An agent writes files; the board follows without a reload.
      writeTask('4', { subject: 'Announce the change', status: 'pending', blocks: [], blockedBy: ['3'] });
      writeTask('3', { subject: 'Backfill old rows', activeForm: 'Backfilling', status: 'in_progress', blocks: [], blockedBy: ['2'] });
      await page.locator('[data-column="pending"] [data-task="4"]').waitFor();
      await page.locator('[data-column="in_progress"] [data-task="3"]').waitFor();
      await screenshot(page, 'task-board');

      // A note, typed into the browser's prompt, lands in the task file.
      page.once('dialog', (d) => void d.accept('Check the index sizes first'));
      await page.locator('[data-task="4"] button', { hasText: 'Note' }).click();
      await until(() => readFileSync(join(sessionDir, '4.json'), 'utf8').includes('Check the index sizes first'), 'the note in the task file');

      page.once('dialog', (d) => void d.accept());
      await page.locator('[data-task="4"] button', { hasText: 'Delete' }).click();
      await page.locator('[data-task="4"]').waitFor({ state: 'detached' });
      expect(existsSync(join(sessionDir, '4.json'))).toBe(false);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('opens a tunnel from the page and shows its public URL and health', async () => {
    const port = await freePort();
    await json(`${flow.url}/api/backends`, { method: 'POST', body: { name: 'echo', command: [process.execPath, ECHO_SERVER], cwd: process.cwd(), port } });
    const { context, page, errors } = await openPage(browser, `${flow.url}/#/tunnels`);
    try {
      const form = page.locator('[data-page="tunnels"] form[data-form="start-tunnel"]');
      await form.locator('input[name="port"]').fill(String(port));
      await form.locator('input[name="name"]').fill('echo');
      await form.locator('button[type="submit"]').click();
      const card = page.locator('[data-tunnel="echo"]');
      await card.locator('a.tunnel-url').waitFor({ timeout: 20_000 });
      expect(await card.locator('a.tunnel-url').textContent()).toMatch(/^https:\/\/[a-z0-9-]+\.trycloudflare\.com$/);
      await page.locator('[data-tunnel="echo"][data-status="connected"]').waitFor();
      // Health is checked every 30 s; before the first check the card says so.
      expect(await card.locator('dd').nth(2).textContent()).toMatch(/not checked yet|healthy|failed/);
      await screenshot(page, 'tunnels');
      await card.locator('button', { hasText: 'Stop' }).click();
      await page.locator('[data-tunnel="echo"][data-status="stopped"]').waitFor();
      expect(errors).toEqual([]);
    } catch (err) {
      await screenshot(page, 'tunnels-failure');
      throw err;
    } finally {
      await context.close();
    }
  });

  it('renders installed tools and the actor list without script errors', async () => {
    const { context, page, errors } = await openPage(browser, `${flow.url}/#/tools`);
    try {
      await page.locator('[data-page="tools"] [data-testid="tools"] .card').first().waitFor();
      await screenshot(page, 'tools');
      await page.goto(`${flow.url}/#/timeline`);
      await page.locator('[data-page="timeline-index"] [data-actor]').first().waitFor();
      await screenshot(page, 'timeline-actors');
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
