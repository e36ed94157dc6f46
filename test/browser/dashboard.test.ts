import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { CRASHY } from '../support/host.js';
import { startStubModel, type StubModel } from '../fixtures/stub-model-server.js';
import { json, requireBuild, startFlow, until, type FlowProcess } from '../support/flow-process.js';
import { freePort } from '../../services/host/ports.js';
import { tempDir } from '../support/tmp.js';
import { launchBrowser } from './browser.js';

/**
 * The dashboard at a phone's size (390×844) and a laptop's (1280×800), every page, against a real
 * Flow with a backend, a tunnel, a task board and a real `opencode serve` on the stub model:
 * nothing scrolls sideways, every action can be reached; then the chat's markdown (an XSS payload
 * in a reply does nothing), the timeline's change list and arrow keys, and the directory picker.
 * Screenshots go to /tmp/flow-dashboard-*.png.
 */
const FAKE_CLOUDFLARED = join(process.cwd(), 'test/fixtures/fake-cloudflared.mjs');
const ECHO_SERVER = join(process.cwd(), 'test/fixtures/echo-server.mjs');
const SESSION = '3f2b8c1e-5d4a-4e6b-9c7d-0a1b2c3d4e5f';
const SIZES = { phone: { width: 390, height: 844 }, laptop: { width: 1280, height: 800 } } as const;

const XSS_REPLY = [
  '# Plan',
  '',
  'Some **bold** text and a [safe link](https://example.com).',
  '',
  '<img src=x onerror="window.__xss = 1">',
  '',
  '[click me](javascript:window.__xss=2)',
  '',
  '<a href="javascript:window.__xss=3">raw link</a> <script>window.__xss = 4</script>',
  '',
  '```js',
  'const answer = 42; // a long line that must scroll inside its own box rather than widen the page at all',
  '```',
].join('\n');

let browser: Browser;
let flow: FlowProcess;
let stub: StubModel;
let home: ReturnType<typeof tempDir>;
let roots: ReturnType<typeof tempDir>;
let claude: ReturnType<typeof tempDir>;
let project: string;
let sessionId: string;

beforeAll(async () => {
  requireBuild();
  home = tempDir('flow-browser-dash-');
  roots = tempDir('flow-browser-roots-');
  claude = tempDir('flow-browser-dash-claude-');
  project = join(roots.dir, 'projects', 'demo-app');
  mkdirSync(join(roots.dir, 'projects', 'other'), { recursive: true });
  mkdirSync(project, { recursive: true });
  const sessionDir = join(claude.dir, 'tasks', SESSION);
  mkdirSync(sessionDir, { recursive: true });
  mkdirSync(join(claude.dir, 'projects'), { recursive: true });
  writeFileSync(join(sessionDir, '1.json'), JSON.stringify({ id: '1', subject: 'Sketch the schema with a rather long subject line', status: 'in_progress', blocks: [], blockedBy: [] }));
  stub = await startStubModel();
  writeFileSync(join(project, 'opencode.json'), JSON.stringify(stub.opencodeConfig(), null, 2));
  // A repository with a commit: opencode's turn diffs are taken against its snapshots of one.
  for (const args of [['init', '-q'], ['add', '.'], ['-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-qm', 'start']]) execFileSync('git', args, { cwd: project });
  [browser, flow] = await Promise.all([
    launchBrowser(),
    startFlow(home.dir, {
      FLOW_DIR_ROOTS: roots.dir,
      FLOW_TASKS_DIR: join(claude.dir, 'tasks'),
      FLOW_PROJECTS_DIR: join(claude.dir, 'projects'),
      FLOW_TUNNEL_COMMAND: JSON.stringify([process.execPath, FAKE_CLOUDFLARED, 'tunnel', '--url', 'http://localhost:{port}', '--no-autoupdate']),
      FLOW_TUNNEL_RESOLVE_DIR: join(home.dir, 'tunnel-resolve'),
    }),
  ]);
  const port = await freePort();
  await json(`${flow.url}/api/backends`, { method: 'POST', body: { name: 'echo-with-a-long-name', command: [process.execPath, ECHO_SERVER], cwd: process.cwd(), port } });
  await json(`${flow.url}/api/backends`, { method: 'POST', body: { name: 'crashy', command: [process.execPath, CRASHY], cwd: process.cwd() } });
  await json(`${flow.url}/api/tunnels`, { method: 'POST', body: { port, name: 'echo' } });
  await json(`${flow.url}/api/instances`, { method: 'POST', body: { directory: project, id: 'demo' } });
  await until(async () => (await json<{ status: string }>(`${flow.url}/api/instances/demo`)).body.status === 'running', 'the instance to run', 60_000);
  sessionId = (await json<{ id: string }>(`${flow.url}/api/instances/demo/sessions`, { method: 'POST', body: {} })).body.id;
  await json(`${flow.url}/api/sessions/${sessionId}/messages`, { method: 'POST', body: { text: `Show me [say]${XSS_REPLY}` } });
  await until(async () => {
    const { body } = await json<{ messages: { role: string; completedAt: string | null }[] }>(`${flow.url}/api/sessions/${sessionId}/messages`);
    return body.messages.some((m) => m.role === 'assistant' && m.completedAt);
  }, 'the reply to complete', 60_000);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  if (flow && flow.proc.exitCode === null && flow.proc.signalCode === null) {
    flow.proc.kill('SIGTERM');
    await flow.exited;
  }
  await stub?.close();
  for (const d of [home, roots, claude]) d?.cleanup();
}, 60_000);

/** Whether the page scrolls sideways, and which visible controls of `scope` lie outside the window. */
async function layoutProblems(page: Page, scope: string): Promise<{ scrollWidth: number; innerWidth: number; unreachable: string[] }> {
  // A string: the tests are type-checked without the DOM library.
  return page.evaluate(`((sel) => {
    const unreachable = [];
    for (const el of document.querySelectorAll(\`\${sel} button, \${sel} a.btn, \${sel} input, \${sel} textarea, \${sel} select\`)) {
      if (el.closest('details:not([open])') || el.offsetParent === null) continue;
      el.scrollIntoView({ block: 'nearest', inline: 'nearest' });
      const r = el.getBoundingClientRect();
      // Reachable: inside the window and not clipped or covered: what is at its centre is it.
      const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
      const covered = !hit || !(hit === el || el.contains(hit) || hit.contains(el));
      if (r.width === 0 || r.left < -1 || r.right > innerWidth + 1 || covered) unreachable.push(\`\${el.tagName.toLowerCase()} "\${(el.textContent || el.getAttribute('name') || '').trim()}" at \${Math.round(r.left)}..\${Math.round(r.right)}\`);
    }
    return { scrollWidth: document.scrollingElement.scrollWidth, innerWidth, unreachable };
  })(${JSON.stringify(scope)})`);
}

const PAGES: { hash: string; ready: string; name: string }[] = [
  { name: 'backends', hash: '#/backends', ready: 'tr[data-backend="crashy"]' },
  { name: 'backend-detail', hash: '#/backends/crashy', ready: '[data-detail="crashy"]' },
  { name: 'tools', hash: '#/tools', ready: '[data-page="tools"] [data-testid="tools"] .card' },
  { name: 'tunnels', hash: '#/tunnels', ready: '[data-tunnel="echo"] [data-action="remove"]' },
  { name: 'tasks', hash: '#/tasks', ready: '[data-task="1"]' },
  { name: 'timeline-index', hash: '#/timeline', ready: '[data-page="timeline-index"] [data-actor]' },
  { name: 'timeline', hash: '#/timeline/backend-child%3Acrashy', ready: '[data-testid="changes"]' },
  { name: 'instance', hash: '#/instances/demo', ready: '[data-page="instance"] [data-session]' },
  { name: 'chat', hash: '', ready: '.bubble.assistant[data-complete="true"] .md h1' },
];

describe('the dashboard at a phone’s and a laptop’s size', () => {
  for (const [size, viewport] of Object.entries(SIZES)) {
    it(`${size} (${viewport.width}×${viewport.height}): no page scrolls sideways and every action is reachable`, async () => {
      const context = await browser.newContext({ viewport });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      try {
        await page.goto(`${flow.url}/#/backends`);
        for (const p of PAGES) {
          await page.evaluate(`location.hash = ${JSON.stringify(p.hash || `#/sessions/${encodeURIComponent(sessionId)}`)}`);
          await page.locator(p.ready).first().waitFor({ timeout: 20_000 });
          await page.screenshot({ path: `/tmp/flow-dashboard-${size}-${p.name}.png` });
          const found = await layoutProblems(page, '#main');
          expect({ page: p.name, ...found, unreachable: found.unreachable }).toEqual({ page: p.name, scrollWidth: found.innerWidth, innerWidth: found.innerWidth, unreachable: [] });
        }
        // The pages and instances are in the sidebar; on a phone it is a menu.
        const nav = page.locator('.sidebar .nav a', { hasText: 'Tunnels' });
        if (size === 'phone') {
          expect(await nav.isVisible() && (await nav.boundingBox())!.x >= 0).toBe(false);
          await page.locator('[data-testid="menu"]').click();
          await page.waitForTimeout(300); // the drawer's slide-in
          await page.screenshot({ path: `/tmp/flow-dashboard-${size}-menu.png` });
        }
        expect((await nav.boundingBox())!.x).toBeGreaterThanOrEqual(0);
        expect(await layoutProblems(page, '.sidebar')).toMatchObject({ unreachable: [] });
        await nav.click();
        await page.locator('[data-page="tunnels"]').waitFor();
        // The chat's input stays on screen and usable.
        await page.evaluate(`location.hash = ${JSON.stringify(`#/sessions/${encodeURIComponent(sessionId)}`)}`);
        const composer = page.locator('[data-testid="composer"]');
        await composer.waitFor();
        const box = (await composer.boundingBox())!;
        expect(box.y + box.height).toBeLessThanOrEqual(viewport.height);
        expect(box.width).toBeGreaterThan(viewport.width / 2);
        expect(errors).toEqual([]);
      } finally {
        await context.close();
      }
    }, 120_000);
  }
});

describe('the chat', () => {
  it('renders a reply’s markdown with its code highlighted, and an XSS payload in it does nothing', async () => {
    const context = await browser.newContext({ viewport: SIZES.laptop });
    const page = await context.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    try {
      await page.goto(`${flow.url}/#/sessions/${encodeURIComponent(sessionId)}`);
      const md = page.locator('.bubble.assistant[data-complete="true"] .md');
      await md.locator('h1', { hasText: 'Plan' }).waitFor();
      expect(await md.locator('strong').textContent()).toBe('bold');
      expect(await md.locator('a', { hasText: 'safe link' }).getAttribute('href')).toBe('https://example.com');
      expect(await md.locator('a', { hasText: 'safe link' }).getAttribute('rel')).toContain('noopener');
      // Highlighted: highlight.js marked up the keyword and the number.
      await md.locator('pre code.hljs .hljs-keyword', { hasText: 'const' }).waitFor();
      // The payload: no handler, no script, no javascript: target survived; nothing ran.
      const found = await page.evaluate(`({
        xss: window.__xss ?? null,
        handlers: [...document.querySelectorAll('.bubble *')].filter((el) => [...el.attributes].some((a) => a.name.startsWith('on'))).length,
        scripts: document.querySelectorAll('.bubble script').length,
        jsLinks: [...document.querySelectorAll('.bubble a')].filter((a) => /^\\s*javascript:/i.test(a.getAttribute('href') ?? '')).length,
      })`);
      expect(found).toEqual({ xss: null, handlers: 0, scripts: 0, jsLinks: 0 });
      await md.locator('a', { hasText: 'click me' }).click();
      await md.locator('a', { hasText: 'raw link' }).click();
      expect(await page.evaluate('window.__xss ?? null')).toBeNull();
      expect(dialogs).toEqual([]);
      await page.screenshot({ path: '/tmp/flow-dashboard-chat-markdown.png', fullPage: true });
    } finally {
      await context.close();
    }
  }, 60_000);
});

describe('the chat: models, tools, diffs, notifications', () => {
  it('sends with a chosen model, shows the tool call folded and the files the turn changed, and badges the title when done', async () => {
    const context = await browser.newContext({ viewport: SIZES.phone });
    const page = await context.newPage();
    const sent: unknown[] = [];
    page.on('request', (r) => {
      if (r.method() === 'POST' && r.url().endsWith(`/api/sessions/${sessionId}/messages`)) sent.push(r.postDataJSON());
    });
    try {
      await page.goto(`${flow.url}/#/sessions/${encodeURIComponent(sessionId)}`);
      const model = page.locator('[data-testid="model"]');
      await model.locator('option', { hasText: 'Stub' }).first().waitFor({ state: 'attached' });
      await model.selectOption({ label: 'Stub · Stub (default)' });
      // Looking elsewhere: the finished turn is announced in the title.
      await page.evaluate('document.hasFocus = () => false');
      const composer = page.locator('[data-testid="composer"]');
      await composer.fill(`Write it [tool:write:${join(project, 'hello.txt')}]`);
      await composer.press('Control+Enter');
      const diff = page.locator('[data-testid="turn-diff"] [data-file="hello.txt"]');
      await diff.waitFor({ timeout: 30_000 });
      expect(await diff.locator('summary').textContent()).toContain('+2');
      expect(sent.at(-1)).toMatchObject({ model: { providerId: 'stub', modelId: 'stub' } });
      const tool = page.locator('details.tool', { hasText: 'write' }).first();
      expect(await tool.getAttribute('open')).toBeNull();
      await tool.locator('summary').click();
      expect(await tool.locator('.tool-input').textContent()).toContain('hello.txt');
      await diff.locator('summary').click();
      expect(await diff.locator('.diff-lines .add').allTextContents()).toEqual(expect.arrayContaining(['+hello', '+world']));
      await until(async () => /^\(\d+\) /.test(await page.title()), 'the title to count the finished turn');
      await page.screenshot({ path: '/tmp/flow-dashboard-phone-chat-diff.png', fullPage: true });
    } catch (err) {
      await page.screenshot({ path: '/tmp/flow-dashboard-chat-diff-failure.png', fullPage: true });
      throw err;
    } finally {
      await context.close();
    }
  }, 90_000);
});

describe('backends and tunnels', () => {
  it('adds a backend with watch paths and env, and removes a backend and a tunnel after a confirm', async () => {
    const context = await browser.newContext({ viewport: SIZES.laptop });
    const page = await context.newPage();
    const confirms: string[] = [];
    page.on('dialog', (d) => {
      confirms.push(d.message());
      void d.accept();
    });
    try {
      await page.goto(`${flow.url}/#/backends`);
      const form = page.locator('[data-testid="add-backend"]');
      await form.locator('input[name="name"]').fill('watched');
      await form.locator('input[name="command"]').fill(`"${process.execPath}" "${CRASHY}"`);
      await form.locator('input[name="cwd"]').fill(process.cwd());
      await form.locator('input[name="watch"]').fill('test/fixtures, package.json');
      await form.locator('textarea[name="env"]').fill('MODE=demo\nGREETING=hello there');
      await form.locator('button[type="submit"]').click();
      await page.locator('tr[data-backend="watched"]').waitFor();
      const { body } = await json<{ config: { env: Record<string, string>; watch: string[] } }>(`${flow.url}/api/backends/watched`);
      expect(body.config.env).toEqual({ MODE: 'demo', GREETING: 'hello there' });
      expect(body.config.watch).toEqual([join(process.cwd(), 'test/fixtures'), join(process.cwd(), 'package.json')]);

      await page.locator('tr[data-backend="watched"] [data-action="remove"]').click();
      await page.locator('tr[data-backend="watched"]').waitFor({ state: 'detached', timeout: 20_000 });
      expect(confirms.at(-1)).toContain('watched');

      await page.evaluate(`location.hash = '#/tunnels'`);
      await page.locator('[data-tunnel="echo"] [data-action="remove"]').click();
      await page.locator('[data-tunnel="echo"]').waitFor({ state: 'detached', timeout: 20_000 });
      expect(confirms.at(-1)).toContain('echo');
    } finally {
      await context.close();
    }
  }, 60_000);
});

describe('the timeline', () => {
  it('shows what each event changed, and arrow keys step through versions', async () => {
    const context = await browser.newContext({ viewport: SIZES.laptop });
    const page = await context.newPage();
    try {
      await page.goto(`${flow.url}/#/timeline/${encodeURIComponent('backend-child:crashy')}?v=1`);
      const state = page.locator('[data-testid="state"]');
      await state.locator('[data-version="1"]').waitFor();
      // The first version: everything is new.
      await state.locator('[data-testid="changes"] li[data-key="machine state"]').waitFor();
      await page.keyboard.press('ArrowDown');
      await page.waitForURL(/\?v=2$/);
      await state.locator('[data-version="2"]').waitFor();
      const changed = await Promise.all((await state.locator('[data-testid="changes"] li').all()).map((li) => li.getAttribute('data-key')));
      expect(changed.length).toBeGreaterThan(0);
      expect(changed.every((k) => k === 'machine state' || k === 'status' || k!.startsWith('context.'))).toBe(true);
      // The whole context is still there, folded away.
      expect(await state.locator('details.whole').getAttribute('open')).toBeNull();
      // Rows: one line of what the event carried, one time format.
      const started = page.locator('.event-row[data-type="PROCESS_STARTED"]').first();
      expect(await started.locator('.summary').textContent()).toMatch(/pid \d+/);
      const times = await page.locator('.event-row .at').allTextContents();
      expect(times.every((t) => /^\d{2}:\d{2}:\d{2}$/.test(t))).toBe(true);
      await page.keyboard.press('ArrowUp');
      await page.waitForURL(/\?v=1$/);
      await page.keyboard.press('End');
      await page.waitForURL((u) => !u.toString().endsWith('?v=1'));
      await page.screenshot({ path: '/tmp/flow-dashboard-timeline-changes.png' });
    } finally {
      await context.close();
    }
  }, 60_000);
});

describe('the new-instance dialog', () => {
  it('offers recent directories first, browses the allowed roots, and still takes a typed path', async () => {
    const context = await browser.newContext({ viewport: SIZES.phone });
    const page = await context.newPage();
    try {
      await page.goto(`${flow.url}/#/backends`);
      await page.locator('[data-testid="menu"]').click();
      await page.locator('[data-testid="new-instance"]').click();
      const dialog = page.locator('[data-testid="new-instance-dialog"]');
      const picker = dialog.locator('[data-testid="dir-picker"]');
      // The instance's directory comes first, as a recent one.
      expect(await picker.locator('.row').first().getAttribute('data-path')).toBe(project);
      expect(await dialog.textContent()).not.toContain('`');
      // Each choice opens that directory (by exact path: a recent row also names "projects").
      const where = dialog.locator('[data-testid="picker-where"]');
      for (const dir of [roots.dir, join(roots.dir, 'projects'), join(roots.dir, 'projects', 'other')]) {
        await picker.locator(`.row[data-path="${dir}"]`).click();
        await until(async () => (await where.getAttribute('title')) === dir, `the picker to open ${dir}`);
      }
      const input = dialog.locator('input[name="directory"]');
      expect(await input.inputValue()).toBe(join(roots.dir, 'projects', 'other'));
      await page.screenshot({ path: '/tmp/flow-dashboard-phone-picker.png' });
      await dialog.locator('[data-action="up"]').click();
      await picker.locator('.row', { hasText: 'demo-app' }).waitFor();
      // A typed path wins: it is what is sent (and the server judges it).
      await input.fill(join(roots.dir, 'projects', 'other'));
      await dialog.locator('input[name="id"]').fill('typed');
      await dialog.locator('button[type="submit"]').click();
      await page.waitForURL(/#\/instances\/typed/);
      expect((await json<{ directory: string }>(`${flow.url}/api/instances/typed`)).body.directory).toBe(join(roots.dir, 'projects', 'other'));
      await json(`${flow.url}/api/instances/typed`, { method: 'DELETE' });
    } finally {
      await context.close();
    }
  }, 60_000);
});
