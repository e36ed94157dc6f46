import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { F_BIN, requireBuild, startFlow, type FlowProcess } from '../support/flow-process.js';
import { tempDir } from '../support/tmp.js';
import { launchBrowser, openPage, screenshot } from './browser.js';

const PASSWORD = 'correct horse battery staple';

let browser: Browser;
let flow: FlowProcess;
let home: ReturnType<typeof tempDir>;

/** `f auth set-password`, the password on stdin as a script would give it. */
function setPassword(flowHome: string, password: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [F_BIN, 'auth', 'set-password'], { env: { ...process.env, FLOW_HOME: flowHome }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`f auth set-password exited ${code}:\n${out}`))));
    p.stdin.end(`${password}\n`);
  });
}

beforeAll(async () => {
  requireBuild();
  home = tempDir('flow-browser-auth-');
  await setPassword(home.dir, PASSWORD);
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

describe('the dashboard: login', () => {
  it('shows a login screen when a password is set, refuses a wrong one and lets the right one in', async () => {
    const { context, page, errors } = await openPage(browser, `${flow.url}/#/backends`);
    try {
      const form = page.locator('[data-page="login"] form');
      await form.waitFor();
      // The page shell loads without a token; its data does not.
      expect((await fetch(`${flow.url}/api/backends`)).status).toBe(401);
      await screenshot(page, 'login');

      await form.locator('input[name="password"]').fill('not the password');
      await form.locator('button[type="submit"]').click();
      await form.locator('[role="alert"]', { hasText: 'not right' }).waitFor();

      await form.locator('input[name="password"]').fill(PASSWORD);
      await form.locator('input[name="password"]').press('Enter');
      await page.locator('[data-page="backends"]').waitFor();
      await page.locator('[data-testid="connection"] [data-state="live"]').waitFor();

      // The session is an HttpOnly cookie: the page's scripts never hold the token.
      const cookie = (await context.cookies()).find((c) => c.name === 'flow_session');
      expect(cookie?.httpOnly).toBe(true);
      expect(await page.evaluate('document.cookie')).not.toContain('flow_session');

      // Logging out ends the session and shows the login screen again.
      await page.locator('[data-testid="logout"]').click();
      await form.waitFor();
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
