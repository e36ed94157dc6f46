import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, f, FIXTURES, sandbox, type Sandbox } from './helpers.js';

let sb: Sandbox;
let hook: string;
let log: string;

/** A module-loader hook that logs every module `f` loads (ESM resolution runs through it). */
beforeAll(async () => {
  ensureBuilt();
  sb = sandbox();
  mkdirSync(join(sb.dir, 'hook'));
  log = join(sb.dir, 'loaded.txt');
  writeFileSync(
    join(sb.dir, 'hook', 'hooks.mjs'),
    `import { appendFileSync } from 'node:fs';\nexport async function resolve(s, c, next) { const r = await next(s, c); appendFileSync(${JSON.stringify(log)}, r.url + '\\n'); return r; }\n`,
  );
  hook = join(sb.dir, 'hook', 'register.mjs');
  writeFileSync(hook, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(sb.dir, 'hook', 'hooks.mjs')).href)});\n`);
  expect((await f(['install', join(FIXTURES, 'echo-sh')], sb.env)).code).toBe(0);
  // The first run fills the run cache; the fast path is what every later run takes.
  expect((await f(['cli', 'echo-sh', '--', 'warm'], sb.env)).code).toBe(0);
}, 240_000);
afterAll(() => sb?.cleanup());

describe('f cli <id> stays light', () => {
  it('does not load the actor runtime, the store, Fastify, BullMQ, NATS, zod or TOML', async () => {
    writeFileSync(log, '');
    const r = await f(['cli', 'echo-sh', '--', '--help'], { ...sb.env, NODE_OPTIONS: `--import ${pathToFileURL(hook).href}` });
    expect(r.stdout).toBe('[--help]\n');
    const loaded = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    expect(loaded.some((u) => u.includes('/services/tool-install/cli-run.js'))).toBe(true);
    for (const heavy of ['/node_modules/xstate/', '/node_modules/fastify/', '/node_modules/bullmq/', '/node_modules/nats', '/node_modules/better-sqlite3/', '/node_modules/zod/', '/node_modules/smol-toml/', '/services/store/', '/services/host/', '/gateway/', '/services/tool-install/resolver.js', '/actors/']) {
      expect(loaded.filter((u) => u.includes(heavy))).toEqual([]);
    }
  });
});
