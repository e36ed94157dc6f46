import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireBuild, startFlow, stopStartedFlows, until } from '../support/flow-process.js';
import { tempDir } from '../support/tmp.js';

/**
 * `f up --open` and seed 003's OPEN_BROWSER=true open the dashboard with the platform's opener
 * (xdg-open here). The opener is a fake on PATH that records what it was asked to open, as the
 * real one takes a URL as its one argument.
 */
const tmp = tempDir('flow-open-browser-');
const bin = join(tmp.dir, 'bin');
const opened = join(tmp.dir, 'opened.txt');

beforeAll(() => {
  requireBuild();
  mkdirSync(bin);
  writeFileSync(join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${opened}'\n`);
  chmodSync(join(bin, 'xdg-open'), 0o755);
});
afterAll(async () => {
  await stopStartedFlows();
  tmp.cleanup();
});

const lines = () => (existsSync(opened) ? readFileSync(opened, 'utf8').trim().split('\n').filter(Boolean) : []);

describe('opening the dashboard', () => {
  it('given f up --open, then the opener gets the dashboard\'s URL once Flow is up', async () => {
    const home = join(tmp.dir, 'home-1');
    const flow = await startFlow(home, { PATH: `${bin}:${process.env.PATH}`, FLOW_TASKS_DIR: join(home, 't'), FLOW_PROJECTS_DIR: join(home, 'p') }, ['--open']);
    const got = await until(() => (lines().length > 0 ? lines() : null), 'the opener to be called');
    expect(got).toEqual([`${flow.url}/`]);
    flow.proc.kill('SIGTERM');
    expect((await flow.exited).code).toBe(0);
    writeFileSync(opened, '');
  }, 60_000);

  it('given OPEN_BROWSER=true and PUBLIC_DIR, then the dashboard is opened at /flow/ (the frontend has /)', async () => {
    const home = join(tmp.dir, 'home-2');
    const site = join(tmp.dir, 'site');
    mkdirSync(site);
    writeFileSync(join(site, 'index.html'), 'mine');
    const flow = await startFlow(home, { PATH: `${bin}:${process.env.PATH}`, OPEN_BROWSER: 'true', PUBLIC_DIR: site, FLOW_TASKS_DIR: join(home, 't'), FLOW_PROJECTS_DIR: join(home, 'p') });
    const got = await until(() => (lines().length > 0 ? lines() : null), 'the opener to be called');
    expect(got).toEqual([`${flow.url}/flow/`]);
    flow.proc.kill('SIGTERM');
    await flow.exited;
    writeFileSync(opened, '');
  }, 60_000);

  it('given no opener on PATH, then f up says where to go and keeps running', async () => {
    const home = join(tmp.dir, 'home-3');
    const empty = join(tmp.dir, 'empty-bin');
    mkdirSync(empty);
    // Only node on PATH (node's own directory may hold a real xdg-open, as /usr/bin does).
    symlinkSync(process.execPath, join(empty, 'node'));
    const flow = await startFlow(home, { PATH: empty, FLOW_TASKS_DIR: join(home, 't'), FLOW_PROJECTS_DIR: join(home, 'p') }, ['--open']);
    await until(() => /could not open a browser \(xdg-open: not found\); open \S+ yourself/.test(flow.output()), 'the note that no browser opened');
    const health = await fetch(`${flow.url}/api/health`);
    expect(health.status).toBe(200);
    flow.proc.kill('SIGTERM');
    expect((await flow.exited).code).toBe(0);
  }, 60_000);

  it('given a bad OPEN_BROWSER, then f up does not start and says what it must be', async () => {
    const home = join(tmp.dir, 'home-4');
    await expect(startFlow(home, { OPEN_BROWSER: 'sometimes' })).rejects.toThrow(/OPEN_BROWSER is true or false/);
  }, 60_000);
});
