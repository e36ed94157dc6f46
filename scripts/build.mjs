#!/usr/bin/env node
// @ts-check
/**
 * `npm run build`, `npm start` and `prepare`: builds dist/ only when it is not current.
 *
 * dist is current when every source named by tsconfig.build.json has its .js in dist and no
 * source or build setting changed since the last build that succeeded (dist/.build-ok, stamped
 * with the time that build started, so an edit made while tsc ran still counts). Then nothing
 * runs and `npm start` costs what `node dist/cli/main.js up` costs. Otherwise tsc builds
 * incrementally (dist/.tsbuildinfo); a missing output drops the build info first, because tsc's
 * incremental mode trusts it and would not write the file again. A failed build leaves the stamp
 * as it was, so the next start tries again and fails the same way instead of running a stale dist.
 *
 * Plain JavaScript: it runs before anything is compiled. `--force` builds regardless.
 * `--start [args…]` (what `npm start` runs) then runs `f up [args…]` in this same process, so a
 * start on a current tree costs one Node start-up, not two (the check itself is a few ms).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const CONFIG = 'tsconfig.build.json';
const dist = join(root, 'dist');
const stamp = join(dist, '.build-ok');
const buildInfo = join(dist, '.tsbuildinfo');
// What changes what tsc writes besides the sources themselves.
const SETTINGS = [CONFIG, 'tsconfig.json', 'package.json'];

/**
 * The .ts sources tsconfig.build.json compiles (its include folders, minus tests and typings), as
 * paths relative to the root: a start on a built tree walks every one, so no path.join per file.
 */
function sources() {
  const config = JSON.parse(readFileSync(join(root, CONFIG), 'utf8'));
  const found = [];
  const walk = (rel) => {
    for (const entry of readdirSync(`${root}/${rel}`, { withFileTypes: true })) {
      const path = `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules' && entry.name !== 'dist') walk(path);
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') && !entry.name.endsWith('.test.ts')) {
        found.push(path);
      }
    }
  };
  for (const dir of config.include) if (existsSync(join(root, dir))) walk(dir);
  return found;
}

/** Why dist is not current (null: it is), and whether the incremental build info can be trusted. */
function staleness() {
  if (!existsSync(stamp)) return { why: 'no successful build yet', trustBuildInfo: true };
  const built = statSync(stamp).mtimeMs;
  for (const file of SETTINGS) {
    if (existsSync(join(root, file)) && statSync(join(root, file)).mtimeMs > built) return { why: `${file} changed`, trustBuildInfo: false };
  }
  let changed = null;
  for (const rel of sources()) {
    const out = `dist/${rel.slice(0, -3)}.js`;
    if (!existsSync(`${root}/${out}`)) return { why: `${out} is missing`, trustBuildInfo: false };
    if (!changed && statSync(`${root}/${rel}`).mtimeMs > built) changed = `${rel} changed`;
  }
  return changed ? { why: changed, trustBuildInfo: true } : null;
}

const startAt = process.argv.indexOf('--start');
const ownArgs = startAt < 0 ? process.argv.slice(2) : process.argv.slice(2, startAt);
const force = ownArgs.includes('--force');
const stale = force ? { why: '--force', trustBuildInfo: false } : staleness();
if (stale) build(stale);
if (startAt >= 0) {
  // `f up` with the rest of the arguments, as if started as `node dist/cli/main.js up …`.
  const main = join(dist, 'cli', 'main.js');
  process.argv = [process.argv[0], main, 'up', ...process.argv.slice(startAt + 1)];
  await import(pathToFileURL(main).href);
}

function build(stale) {
  if (!stale.trustBuildInfo) rmSync(buildInfo, { force: true });
  process.stderr.write(`building dist (${stale.why})\n`);
  const startedAt = new Date();
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', CONFIG], { cwd: root, stdio: 'inherit' });
  if (tsc.status !== 0) {
    rmSync(stamp, { force: true });
    process.exit(tsc.status ?? 1);
  }
  writeFileSync(stamp, `built from the sources as they were at ${startedAt.toISOString()}\n`);
  utimesSync(stamp, startedAt, startedAt);
}
