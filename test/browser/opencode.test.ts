import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startStubModel, type StubModel } from '../fixtures/stub-model-server.js';
import { requireBuild, startFlow, type FlowProcess } from '../support/flow-process.js';
import { tempDir } from '../support/tmp.js';
import { launchBrowser, openPage, screenshot } from './browser.js';

/**
 * The chat of seed 004 against the real `opencode serve`, talking to the stub model server
 * (there is no internet): create an instance in a directory through the dialog, start a
 * session, send with Ctrl+Enter and watch the reply arrive a delta at a time.
 */
const RECORD_REPLY_TEXTS = `(() => {
  const seen = (window.replyTexts = []);
  new MutationObserver(() => {
    const text = document.querySelector('.bubble.assistant.streaming .text')?.textContent ?? '';
    if (text && seen.at(-1) !== text) seen.push(text);
  }).observe(document.querySelector('[data-testid="messages"]'), { subtree: true, childList: true, characterData: true });
})()`;

let browser: Browser;
let flow: FlowProcess;
let stub: StubModel;
let home: ReturnType<typeof tempDir>;
let project: ReturnType<typeof tempDir>;

beforeAll(async () => {
  requireBuild();
  home = tempDir('flow-browser-oc-');
  project = tempDir('flow-browser-project-');
  stub = await startStubModel();
  writeFileSync(join(project.dir, 'opencode.json'), JSON.stringify(stub.opencodeConfig(), null, 2));
  [browser, flow] = await Promise.all([launchBrowser(), startFlow(home.dir)]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (flow && flow.proc.exitCode === null && flow.proc.signalCode === null) {
    // f up stops its opencode instances on SIGTERM.
    flow.proc.kill('SIGTERM');
    await flow.exited;
  }
  await stub?.close();
  project?.cleanup();
  home?.cleanup();
}, 60_000);

describe('the dashboard: OpenCode chat', () => {
  it('creates an instance and a session, and streams a reply word by word', async () => {
    const { context, page, errors } = await openPage(browser, `${flow.url}/`);
    try {
      await page.locator('[data-testid="new-instance"]').click();
      const dialog = page.locator('[data-testid="new-instance-dialog"]');
      await dialog.locator('input[name="directory"]').fill(project.dir);
      await dialog.locator('input[name="id"]').fill('demo');
      await screenshot(page, 'opencode-new-instance-dialog');
      await dialog.locator('button[type="submit"]').click();

      // The sidebar's dot follows the actor: starting, then running once opencode answers.
      const instance = page.locator('[data-instance="demo"]').first();
      await page.locator('.instance[data-instance="demo"][data-status="running"]').waitFor({ timeout: 60_000 });
      await instance.locator('.dot.green').waitFor();
      await page.locator('[data-page="instance"] [data-status="running"]').waitFor();
      await screenshot(page, 'opencode-instance');

      await page.locator('[data-testid="new-session"]').click();
      await page.waitForURL(/#\/sessions\//);
      const sessionId = decodeURIComponent(page.url().split('#/sessions/')[1]!);
      await page.locator(`.session-link[data-session="${sessionId}"]`).waitFor();

      // Record every text the reply bubble shows, as the page shows it (a string: the tests are
      // type-checked without the DOM library).
      await page.evaluate(RECORD_REPLY_TEXTS);

      const composer = page.locator('[data-testid="composer"]');
      await composer.fill('Count for me [deltas:8:60]');
      await composer.press('Control+Enter');
      // A picture of the reply mid-stream, for the artifacts (best effort: it may already be done).
      await page
        .locator('.bubble.assistant.streaming')
        .waitFor({ timeout: 30_000 })
        .then(() => screenshot(page, 'opencode-streaming'))
        .catch(() => undefined);

      const reply = page.locator('.bubble.assistant[data-complete="true"]');
      await reply.waitFor({ timeout: 30_000 });
      // The final text is rendered as markdown (one paragraph), the streamed one as it came.
      const streamed = 'd0 d1 d2 d3 d4 d5 d6 d7 ';
      expect((await reply.locator('.text p').textContent())?.trim()).toBe(streamed.trim());
      const finalText = streamed;
      await expect.poll(() => reply.locator('.meta').textContent()).toContain('out');
      await page.locator('.bubble.user', { hasText: 'Count for me' }).waitFor();
      await screenshot(page, 'opencode-reply');

      // Word by word: the page showed growing prefixes of the final text before it was complete.
      const texts = (await page.evaluate('window.replyTexts')) as string[];
      expect(texts.length).toBeGreaterThanOrEqual(4);
      texts.forEach((t, i) => {
        expect(finalText!.startsWith(t)).toBe(true);
        if (i > 0) expect(t.length).toBeGreaterThan(texts[i - 1]!.length);
      });

      // A tool that needs a permission: the session waits for you, and the answer goes through Flow.
      await composer.fill('Run it [tool:bash]');
      await page.locator('button', { hasText: 'Send' }).click();
      const ask = page.locator('[data-permission]');
      await ask.waitFor({ timeout: 30_000 });
      await page.locator(`.session-link[data-session="${sessionId}"][data-status="needs-attention"]`).waitFor();
      await screenshot(page, 'opencode-permission');
      await ask.locator('button', { hasText: 'Allow once' }).click();
      await page.locator('.bubble.assistant[data-complete="true"] .text', { hasText: 'The tool said hi-from-tool.' }).waitFor({ timeout: 30_000 });
      await ask.waitFor({ state: 'detached' });
      await page.locator('.bubble.assistant .tool', { hasText: 'bash' }).first().waitFor();
      await screenshot(page, 'opencode-chat');
      expect(errors).toEqual([]);
    } catch (err) {
      await screenshot(page, 'opencode-failure');
      throw err;
    } finally {
      await context.close();
    }
  }, 120_000);
});
