import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { CRASHY } from '../support/host.js';
import { json, requireBuild, startFlow, until, type FlowProcess } from '../support/flow-process.js';
import { tempDir } from '../support/tmp.js';
import { launchBrowser, openPage, screenshot } from './browser.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

interface Health {
  epoch: string;
  head: number;
}

let browser: Browser;
let flow: FlowProcess;
let proxy: TcpProxy;
let home: ReturnType<typeof tempDir>;

beforeAll(async () => {
  requireBuild();
  home = tempDir('flow-browser-reconnect-');
  proxy = await startTcpProxy(() => flow.url);
  // The browser names the proxy's port in its Host header: Flow must be told to answer to it.
  [browser, flow] = await Promise.all([launchBrowser(), startFlow(home.dir, { FLOW_ALLOWED_HOSTS: new URL(proxy.url).host })]);
});

afterAll(async () => {
  await browser?.close();
  await proxy?.close();
  if (flow && flow.proc.exitCode === null && flow.proc.signalCode === null) {
    flow.proc.kill('SIGTERM');
    await flow.exited;
  }
  home?.cleanup();
});

describe('the dashboard: reconnecting', () => {
  it('reconnects by itself and catches up from its last position', async () => {
    // The browser reaches Flow only through the proxy; the test talks to Flow directly.
    const { context, page, errors } = await openPage(browser, `${proxy.url}/#/backends`);
    const streams: URL[] = [];
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname === '/api/events') streams.push(u);
    });
    try {
      await page.locator('[data-testid="connection"] [data-state="live"]').waitFor();
      // Live state is shown with its actions while connected.
      await json(`${flow.url}/api/backends`, { method: 'POST', body: { name: 'before', command: [process.execPath, CRASHY], cwd: process.cwd() } });
      const before_ = page.locator('tr[data-backend="before"]');
      await before_.locator('[data-status="running"]').waitFor();
      expect(await page.locator('[data-testid="offline"]').isVisible()).toBe(false);

      await until(async () => (await json<{ status: string }>(`${flow.url}/api/backends/before`)).body.status === 'running', 'before to run');
      const before = (await json<Health>(`${flow.url}/api/health`)).body;
      await until(async () => Number(await page.locator('html').getAttribute('data-live-position')) === before.head, 'the page to read up to the head');

      proxy.cut();
      await page.locator('[data-testid="connection"] [data-state="reconnecting"]').waitFor();
      // Flow away: a clear banner, the last known state greyed out, the actions off.
      await page.locator('[data-testid="offline"]', { hasText: 'Flow is not reachable' }).waitFor();
      // (A string: the tests are type-checked without the DOM library.)
      const looks = await page.evaluate(`(() => {
        const dot = document.querySelector('tr[data-backend="before"] .dot');
        const stop = document.querySelector('tr[data-backend="before"] [data-action="stop"]');
        const r = stop.getBoundingClientRect();
        return {
          grey: getComputedStyle(dot).filter,
          stopClickable: getComputedStyle(stop).pointerEvents !== 'none',
          // A click where the button is reaches nothing that acts.
          atStop: document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) === stop,
        };
      })()`);
      expect(looks).toEqual({ grey: 'grayscale(1)', stopClickable: false, atStop: false });
      await screenshot(page, 'reconnecting');
      await page.screenshot({ path: '/tmp/flow-dashboard-offline.png' });

      // While the page is away, things happen.
      await json(`${flow.url}/api/backends`, { method: 'POST', body: { name: 'while-away', command: [process.execPath, CRASHY], cwd: process.cwd() } });
      await until(async () => (await json<{ status: string }>(`${flow.url}/api/backends/while-away`)).body.status === 'running', 'the backend to run');
      const head = (await json<Health>(`${flow.url}/api/health`)).body.head;
      expect(head).toBeGreaterThan(before.head);

      proxy.restore();
      await page.locator('[data-testid="connection"] [data-state="live"]').waitFor({ timeout: 20_000 });
      await page.locator('tr[data-backend="while-away"] [data-status="running"]').waitFor();

      // It asked to resume after what it had read, in the same log, and read up to the head.
      const resumed = streams.find((u) => u.searchParams.get('from') === String(before.head));
      expect(resumed?.searchParams.get('epoch')).toBe(before.epoch);
      await until(async () => Number(await page.locator('html').getAttribute('data-live-position')) === head, 'the page to read up to the head');
      // Back: the banner is gone and the actions work again.
      await page.locator('[data-testid="offline"]').waitFor({ state: 'hidden' });
      await page.locator('tr[data-backend="before"] [data-action="stop"]').click();
      await page.locator('tr[data-backend="before"] [data-status="stopped"]').waitFor();
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
