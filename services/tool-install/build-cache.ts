import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { ToolError } from './errors.js';
import { writeFileAtomic } from './fs-atomic.js';
import type { ToolPaths } from './paths.js';

/** What `[exec].build` needs; plain data, so the fast path can check the cache without zod. */
export interface BuildSpec {
  id: string;
  root: string;
  binaryName: string;
  build: string[];
  output?: string | undefined;
  sources?: string[] | undefined;
  env: Record<string, string>;
  manifestSha256: string;
}

/** Directories that hold build products or dependencies, not the tool's source. */
const SKIP_DIRS = new Set(['.git', 'node_modules', 'target', '.venv', 'venv', '__pycache__', '.direnv', '.zig-cache', 'zig-cache', '.flow']);

function walk(root: string, starts: readonly string[], visit: (abs: string, rel: string, size: number, mtimeMs: number) => void, skip: string | undefined = undefined): void {
  const stack = [...starts].reverse();
  while (stack.length > 0) {
    const abs = stack.pop()!;
    let st;
    try {
      st = lstatSync(abs);
    } catch {
      continue;
    }
    const rel = relative(root, abs) || '.';
    // The build's own product (exec.output) is not a source: hashing it would rebuild forever.
    if (skip !== undefined && rel === skip) continue;
    if (st.isDirectory()) {
      const names = readdirSync(abs).filter((n) => !SKIP_DIRS.has(n)).sort().reverse();
      for (const n of names) stack.push(join(abs, n));
    } else if (st.isFile()) {
      visit(abs, rel, st.size, st.mtimeMs);
    }
  }
}

function outputRel(spec: BuildSpec): string | undefined {
  return spec.output ? relative(spec.root, join(spec.root, spec.output)) : undefined;
}

function startsOf(spec: BuildSpec): string[] {
  return spec.sources && spec.sources.length > 0 ? spec.sources.map((s) => join(spec.root, s)) : [spec.root];
}

/** Cheap: names, sizes and mtimes. Maps to a content key once the content has been hashed. */
export function statFingerprint(spec: BuildSpec): string {
  const h = createHash('sha256').update(spec.manifestSha256).update(spec.build.join('\0'));
  walk(spec.root, startsOf(spec), (_abs, rel, size, mtimeMs) => h.update(`${rel}\0${size}\0${mtimeMs}\n`), outputRel(spec));
  return h.digest('hex');
}

/** The cache key: the manifest, the build command and every source file's bytes. */
export function contentKey(spec: BuildSpec): string {
  const h = createHash('sha256').update(spec.manifestSha256).update(spec.build.join('\0')).update(spec.output ?? '');
  walk(spec.root, startsOf(spec), (abs, rel) => {
    h.update(`${rel}\0`);
    h.update(readFileSync(abs));
    h.update('\n');
  }, outputRel(spec));
  return h.digest('hex').slice(0, 32);
}

function toolCacheDir(paths: ToolPaths, id: string): string {
  return join(paths.buildCache, id);
}

interface Memo {
  root: string;
  fingerprints: Record<string, string>;
}

function readMemo(paths: ToolPaths, spec: BuildSpec): Memo {
  try {
    const memo = JSON.parse(readFileSync(join(toolCacheDir(paths, spec.id), 'memo.json'), 'utf8')) as Memo;
    if (memo.root === spec.root && memo.fingerprints && typeof memo.fingerprints === 'object') return memo;
  } catch {
    /* no memo yet */
  }
  return { root: spec.root, fingerprints: {} };
}

export function builtPath(paths: ToolPaths, spec: BuildSpec, key: string): string {
  return join(toolCacheDir(paths, spec.id), key, spec.binaryName);
}

/** The built program if the sources are unchanged since it was built; null when a build is due. */
export function lookupBuilt(paths: ToolPaths, spec: BuildSpec): string | null {
  const key = readMemo(paths, spec).fingerprints[statFingerprint(spec)];
  if (!key) return null;
  const out = builtPath(paths, spec, key);
  return existsSync(out) ? out : null;
}

/** A remote install's record.json says whether the user allowed its [exec].build to run. */
export type BuildConsent = 'needed' | 'approved';

/**
 * A remote tool's [exec].build is its publisher's code: Flow runs it only once the user asked
 * (`f install --build <install_id>`), which installs/<install_id>/record.json remembers. Returns
 * what stops a build of `spec` (the install id and a message saying how to allow it), or null
 * when it may run: a link or dev-root tool (the user's own code), or an approved remote install.
 */
export function buildBlocked(paths: ToolPaths, spec: Pick<BuildSpec, 'id' | 'root' | 'build'>): { installId: string; message: string } | null {
  const rel = relative(paths.installs, spec.root);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return null;
  const installId = rel.split(sep)[0]!;
  let consent: unknown;
  try {
    consent = (JSON.parse(readFileSync(join(paths.installs, installId, 'record.json'), 'utf8')) as { build?: unknown }).build;
  } catch {
    consent = undefined;
  }
  if (consent === 'approved') return null;
  return {
    installId,
    message: `${spec.id} needs a build before it can run; f install --build ${installId} builds it (its [exec].build, ${spec.build.join(' ')}, comes from the catalog, and Flow runs a catalog's code only when asked)`,
  };
}

/** What a shim of a tool that still needs a build runs: a sentence on stderr, exit 1. */
export function needsBuildArgv(message: string): string[] {
  return ['sh', '-c', 'printf "f: %s\\n" "$0" >&2; exit 1', message];
}

export interface BuildResult {
  output: string;
  key: string;
  built: boolean;
}

/**
 * Builds once per content of the sources into $FLOW_HOME/cli/cache/build/<id>/<key>/, then the
 * runner execs that program directly (no `go run` compile check on every call). The build's own
 * output goes to stderr so it never mixes with what the tool prints on stdout.
 */
export async function ensureBuilt(paths: ToolPaths, spec: BuildSpec): Promise<BuildResult> {
  const blocked = buildBlocked(paths, spec);
  if (blocked) throw new ToolError(blocked.message, 'build');
  const fp = statFingerprint(spec);
  const memo = readMemo(paths, spec);
  const key = memo.fingerprints[fp] ?? contentKey(spec);
  const out = builtPath(paths, spec, key);
  const dir = toolCacheDir(paths, spec.id);
  let built = false;
  if (!existsSync(out)) {
    const work = join(dir, `.build-${key}-${randomBytes(4).toString('hex')}`);
    mkdirSync(work, { recursive: true });
    try {
      const target = join(work, spec.binaryName);
      const argv = spec.build.map((a) => a.replaceAll('{out}', target));
      process.stderr.write(`f: building ${spec.id} (${argv.join(' ')})\n`);
      const code = await new Promise<number | string>((resolve) => {
        const child = spawn(argv[0]!, argv.slice(1), {
          cwd: spec.root,
          env: { ...process.env, ...spec.env, FLOW_BUILD_OUT: target },
          stdio: ['ignore', process.stderr, process.stderr],
        });
        child.on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ENOENT' ? `"${argv[0]}" is not on PATH` : err.message));
        child.on('exit', (c, s) => resolve(c ?? `killed by ${s}`));
      });
      if (code !== 0) throw new ToolError(`building ${spec.id} failed: ${typeof code === 'number' ? `exit code ${code}` : code} (${argv.join(' ')} in ${spec.root})`, 'build');
      if (spec.output) {
        const produced = join(spec.root, spec.output);
        if (!existsSync(produced)) throw new ToolError(`building ${spec.id} did not produce exec.output ${spec.output}`, 'build');
        copyFileSync(produced, target);
      }
      if (!existsSync(target) || !statSync(target).isFile()) {
        throw new ToolError(`building ${spec.id} wrote nothing to $FLOW_BUILD_OUT (${target}); write the program there, use "{out}" in exec.build, or set exec.output`, 'build');
      }
      chmodSync(target, 0o755);
      rmSync(join(dir, key), { recursive: true, force: true });
      renameSync(work, join(dir, key));
      built = true;
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    // Older builds of this tool are of no more use.
    for (const n of readdirSync(dir)) if (n !== key && n !== 'memo.json' && !n.startsWith('.build-')) rmSync(join(dir, n), { recursive: true, force: true });
  }
  writeFileAtomic(join(dir, 'memo.json'), JSON.stringify({ root: spec.root, fingerprints: { [fp]: key } }));
  return { output: out, key, built };
}
