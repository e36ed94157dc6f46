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
      const before = (await json<Health>(`${flow.url}/api/health`)).body;
      const seen = Number(await page.locator('html').getAttribute('data-live-position'));
      expect(seen).toBe(before.head);

      proxy.cut();
      await page.locator('[data-testid="connection"] [data-state="reconnecting"]').waitFor();
      await screenshot(page, 'reconnecting');

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
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
