import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { CRASHY } from '../support/host.js';
import { json, requireBuild, startFlow, until, type FlowProcess } from '../support/flow-process.js';
import { tempDir } from '../support/tmp.js';
import { launchBrowser, openPage, screenshot } from './browser.js';

interface BackendView {
  name: string;
  status: string;
  restarts: number;
  version: number;
}

let browser: Browser;
let flow: FlowProcess;
let home: ReturnType<typeof tempDir>;

beforeAll(async () => {
  requireBuild();
  home = tempDir('flow-browser-');
  [browser, flow] = await Promise.all([launchBrowser(), startFlow(home.dir)]);
});

afterAll(async () => {
  await browser?.close();
  if (flow && flow.proc.exitCode === null && flow.proc.signalCode === null) {
    flow.proc.kill('SIGTERM');
    await flow.exited;
  }
  home?.cleanup();
});

describe('the dashboard: backends', () => {
  it('adds a backend through the form and shows its status change live, then its output', async () => {
    const { context, page, errors } = await openPage(browser, `${flow.url}/#/backends`);
    try {
      await page.locator('[data-testid="connection"] [data-state="live"]').waitFor();
      const form = page.locator('[data-testid="add-backend"]');
      await form.locator('input[name="name"]').fill('web');
      // crashy exits with code 3 after 1.5 s: running → backoff → running again, all pushed to the page.
      await form.locator('input[name="command"]').fill(`"${process.execPath}" "${CRASHY}" --exit 3 --after 1500`);
      await form.locator('input[name="cwd"]').fill(process.cwd());
      await form.locator('button[type="submit"]').click();

      const row = page.locator('tr[data-backend="web"]');
      await row.locator('[data-status="running"]').waitFor();
      // No reload from here on: what changes on the page came over the event stream.
      await row.locator('[data-status="backoff"]').waitFor({ timeout: 15_000 });
      await screenshot(page, 'backends-backoff');
      await until(async () => Number(await row.locator('[data-testid="restarts"]').textContent()) >= 1, 'the restart count to rise on the page');
      expect((await json<BackendView>(`${flow.url}/api/backends/web`)).body.restarts).toBeGreaterThanOrEqual(1);

      // Choosing the backend shows its details and its output, followed live.
      await row.click();
      await page.locator('[data-testid="logs"] .line', { hasText: 'crashy up' }).first().waitFor();
      await screenshot(page, 'backends-detail');

      // Stop from the page: the status follows.
      await page.locator('[data-detail="web"] [data-action="stop"]').click();
      await page.locator('[data-detail="web"] [data-status="stopped"]').waitFor();
      await row.locator('[data-status="stopped"]').waitFor();
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);

  it('opens a backend’s timeline and steps back to an earlier state, folded by its machine', async () => {
    const added = await json<BackendView>(`${flow.url}/api/backends`, { method: 'POST', body: { name: 'steady', command: [process.execPath, CRASHY], cwd: process.cwd() } });
    expect(added.status).toBe(201);
    await until(async () => (await json<BackendView>(`${flow.url}/api/backends/steady`)).body.status === 'running', 'steady to run');
    await json(`${flow.url}/api/backends/steady/stop`, { method: 'POST' });
    const stopped = await until(async () => {
      const b = (await json<BackendView>(`${flow.url}/api/backends/steady`)).body;
      return b.status === 'stopped' && b;
    }, 'steady to stop');

    const { context, page, errors } = await openPage(browser, `${flow.url}/#/backends`);
    try {
      await page.locator('tr[data-backend="steady"] [data-action="timeline"]').click();
      await page.waitForURL(/#\/timeline\/backend-child/);
      const state = page.locator('[data-testid="state"]');
      await state.locator(`[data-version="${stopped.version}"][data-status="stopped"]`).waitFor();

      // The event that made it run: choosing it shows the state as of that version.
      const runningAt = page.locator('.event-row[data-type="PROCESS_STARTED"]').first();
      const version = Number(await runningAt.getAttribute('data-version'));
      await runningAt.click();
      await state.locator(`[data-version="${version}"][data-status="running"]`).waitFor();
      expect(await page.locator('[data-testid="state-title"]').textContent()).toBe(`State as of version ${version} of ${stopped.version}`);
      await expect.poll(() => page.locator('.event-row.future').count()).toBe(stopped.version - version);
      await screenshot(page, 'timeline-earlier-state');

      // And one step further back with the button.
      await page.locator('[data-action="earlier"]').click();
      await state.locator(`[data-version="${version - 1}"]`).waitFor();

      // The server's fold agrees with what the page shows.
      const folded = await json<{ status: string; version: number }>(`${flow.url}/api/actors/${encodeURIComponent('backend-child:steady')}/state?version=${version}`);
      expect(folded.body).toMatchObject({ status: 'running', version });

      // Back to the newest state, which follows new events.
      await page.locator('[data-action="latest"]').click();
      await state.locator(`[data-version="${stopped.version}"]`).waitFor();
      await json(`${flow.url}/api/backends/steady/start`, { method: 'POST' });
      await state.locator('[data-version][data-status="running"]').waitFor();
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
