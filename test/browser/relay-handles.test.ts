import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRelay } from '../../services/relay/app.js';
import { RelayRegistry } from '../../services/relay/registry.js';
import { startFlow, type FlowProcess } from '../support/flow-process.js';
import { tempDir } from '../support/tmp.js';
import { launchBrowser, openPage, screenshot } from './browser.js';

/** The tunnels page's relay handles: check, register, rename and release against a real relay. */
let browser: Browser;
let flow: FlowProcess;
let relay: FastifyInstance;
let registry: RelayRegistry;
let relayUrl: string;
const home = tempDir('flow-browser-handles-');

beforeAll(async () => {
  registry = new RelayRegistry(join(home.dir, 'relay.db'));
  relay = buildRelay({ domain: 'example.test', registry, publicScheme: 'http', registerLimit: { burst: 1000 } });
  await relay.listen({ port: 0, host: '127.0.0.1' });
  relayUrl = `http://127.0.0.1:${(relay.server.address() as AddressInfo).port}`;
  [browser, flow] = await Promise.all([launchBrowser(), startFlow(join(home.dir, 'home'), { FLOW_RELAY_URL: relayUrl })]);
});

afterAll(async () => {
  await browser?.close();
  if (flow && flow.proc.exitCode === null && flow.proc.signalCode === null) {
    flow.proc.kill('SIGTERM');
    await flow.exited;
  }
  await relay?.close();
  registry?.close();
  home.cleanup();
});

describe('the tunnels page: relay handles', () => {
  it('checks a name, registers it, renames it and releases it; a taken name is shown inline', async () => {
    const { context, page, errors } = await openPage(browser, `${flow.url}/#/tunnels`);
    page.on('dialog', (d) => void d.accept());
    try {
      await page.locator('[data-testid="connection"] [data-state="live"]').waitFor();
      const form = page.locator('form[data-form="relay-handle"]');
      // FLOW_RELAY_URL fills the relay field when nothing was used before.
      // A string: it runs in the page, and the tests are type-checked without the DOM's types.
      await page.waitForFunction(`document.querySelector('form[data-form="relay-handle"] input[name="relay"]')?.value === ${JSON.stringify(relayUrl)}`);
      await form.getByText('This Flow holds no relay handles yet.').waitFor();

      await form.locator('input[name="username"]').fill('nia');
      await form.locator('[data-action="check"]').click();
      await form.locator('[data-available="true"]', { hasText: 'nia is available (premium)' }).waitFor();

      await form.locator('[data-action="register"]').click();
      await form.locator('[data-testid="handle-result"] a', { hasText: 'http://nia.example.test/' }).waitFor();
      await form.locator('tr[data-handle="nia"][data-tier="premium"]').waitFor();
      expect(Object.keys(JSON.parse(readFileSync(join(home.dir, 'home', 'relay-tokens.json'), 'utf8')) as object)).toEqual([`${relayUrl}|premium|nia`]);
      await screenshot(page, 'relay-handles');

      // A name someone else holds: check says so, register shows the relay's words.
      await fetch(`${relayUrl}/api/handle/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'oda' }) });
      await form.locator('input[name="username"]').fill('oda');
      await form.locator('[data-action="check"]').click();
      await form.locator('[data-available="false"]', { hasText: 'already taken' }).waitFor();
      await form.locator('[data-action="register"]').click();
      await form.locator('[role="alert"]', { hasText: 'the username "oda" is already taken on the premium tier' }).waitFor();

      await form.locator('tr[data-handle="nia"] [data-action="rename"]').click();
      await form.locator('tr[data-handle="nia"] input[name="newUsername"]').fill('nia-2');
      await form.locator('tr[data-handle="nia"] [data-action="save"]').click();
      await form.locator('tr[data-handle="nia-2"]').waitFor();
      expect(await form.locator('tr[data-handle="nia"]').count()).toBe(0);

      await form.locator('tr[data-handle="nia-2"] [data-action="release"]').click();
      await form.getByText('This Flow holds no relay handles yet.').waitFor();
      expect(JSON.parse(readFileSync(join(home.dir, 'home', 'relay-tokens.json'), 'utf8'))).toEqual({});
      expect(errors).toEqual([]);
    } catch (err) {
      await screenshot(page, 'relay-handles-failure');
      throw err;
    } finally {
      await context.close();
    }
  });
});
