import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { parse as parseToml } from 'smol-toml';
import type { Registration, RegistrationRef } from '../../actors/tool-install/index.js';
import { buildBlocked, ensureBuilt, needsBuildArgv, type BuildConsent, type BuildResult, type BuildSpec } from './build-cache.js';
import { catalogBase, catalogFetch, fetchCatalogRecord, parseInstallIdArg, resolveSourceUrl, type CatalogRecord } from './catalog.js';
import { download } from './download.js';
import { ManifestError, ToolError } from './errors.js';
import { unpackBundle } from './extract.js';
import { writeFileAtomic } from './fs-atomic.js';
import { installsOf, readIndex, writeIndex, type RemoteInstall, type ToolIndex } from './index-file.js';
import { installLimits, type InstallLimits } from './limits.js';
import { readLinkRecord, writeLinkRecord, type LinkRecord } from './link-record.js';
import { loadManifest, MANIFEST_FILE, manifestToToml, type LoadedManifest, type Manifest } from './manifest.js';
import { installDir, linkRecordPath, type ToolPaths } from './paths.js';
import { downloadProgress } from './progress.js';
import { bringInLine, propose, type ToolInstallEntry } from './entry.js';
import type { RegisterDecision } from './index.js';
import { buildSpecOf } from './resolver.js';
import { forgetPlans } from './run-cache-write.js';
import { writeShims, binOnPath, pathAdvice } from './shims.js';
import { sourcePolicy } from './source-policy.js';
import { isToolId } from './tool-id.js';

export interface InstallOptions {
  force?: boolean;
  /** Link even a bare name that could be a package (`f install --link tools`). */
  link?: boolean;
  catalog?: string;
  backend?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Set by `f cli upgrade`: the registrations this install replaces. */
  upgrade?: { replaces: RegistrationRef[] };
  tty?: boolean;
  /** The bare word that linked, when it could also be a package name (see classifyInstallArg). */
  alsoPackage?: string | null;
  /** Run a remote tool's [exec].build now (`f install --build`): its publisher's code, so only when asked. */
  build?: boolean;
}

export interface InstallOutcome {
  id: string;
  kind: 'link' | 'remote' | 'package';
  status: 'installed' | 'already-installed' | 'upgraded';
  active: boolean;
  root: string;
  installId: string | null;
  shims: string[];
  /** Said to the user on stderr: conflicts, shadowing, PATH advice. */
  notes: string[];
}

function expandHome(p: string): string {
  return p === '~' ? homedir() : p.startsWith('~/') ? join(homedir(), p.slice(2)) : p;
}

/** An explicit path form: "./x", "../x", "/x", "~/x", "." or a flow-tool.toml path. It always links. */
export function isPathArg(arg: string): boolean {
  return arg === '.' || arg === '..' || arg === '~' || /^(\.{1,2}|~)?\//.test(arg) || basename(arg) === MANIFEST_FILE;
}

export type InstallTarget =
  | {
      kind: 'link';
      path: string;
      /**
       * Set when a bare word (not a path form) linked because a directory of that name exists: the
       * word could also be a package name, so the user is told which was chosen and how to get the other.
       */
      alsoPackage: string | null;
    }
  | { kind: 'remote'; installId: string }
  | { kind: 'package'; name: string; localDirHint: string | null };

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Pre-backend dispatch, in seed 001's order: an existing directory or manifest path links, a
 * remote install id is fetched, anything else is a package. An explicit `--backend` means "this
 * is a package" even when a directory of that name exists (that is how the user picks the other).
 */
export function classifyInstallArg(arg: string, opts: Pick<InstallOptions, 'link' | 'cwd' | 'backend'> = {}): InstallTarget {
  const cwd = opts.cwd ?? process.cwd();
  const local = resolve(cwd, expandHome(arg));
  if (opts.link || isPathArg(arg)) return { kind: 'link', path: local, alsoPackage: null };
  if (opts.backend === undefined && isDirectory(local)) return { kind: 'link', path: local, alsoPackage: arg };
  const installId = parseInstallIdArg(arg);
  if (installId) return { kind: 'remote', installId };
  return { kind: 'package', name: arg, localDirHint: existsSync(local) ? local : null };
}

/** What a tool directory's flow-tool.toml must hold, shown when it has none. */
export const MANIFEST_EXAMPLE = ['version = 1', 'id = "my-tool"            # what f cli my-tool runs', 'language = "go"           # go, rust, node, python, sh, ...', 'binary_name = "my-tool"', '', '[exec]', 'run = ["go", "run", "."]  # run in the tool\'s directory, with the user\'s arguments after'].join('\n');

function missingManifest(dir: string, alsoPackage: string | null): ToolError {
  const lines = [
    `${dir} has no ${MANIFEST_FILE}, so it cannot be linked as a tool.`,
    `Add ${join(dir, MANIFEST_FILE)} with at least:`,
    ...MANIFEST_EXAMPLE.split('\n').map((l) => `  ${l}`),
  ];
  if (alsoPackage) lines.push(`(to install the package "${alsoPackage}" instead, pass --backend auto, or registry, parm or flox)`);
  return new ToolError(lines.join('\n'), 'manifest');
}

/** The note said when a bare word linked: which meaning was taken, and how to ask for the other. */
export function linkChoiceNote(word: string, dir: string): string {
  return `"${word}" is an existing directory (${dir}), so it was linked as a tool; to install the package "${word}" instead, pass --backend auto (or registry, parm, flox)`;
}

/** Where the manifest of `path` is, with every file-system failure said in words (never a raw ENOENT). */
function locateManifest(path: string, alsoPackage: string | null): string {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new ToolError(`${path} does not exist (f install <path> takes a tool directory or its ${MANIFEST_FILE})`);
    throw new ToolError(`${path} cannot be read (${code ?? String(err)}); check its permissions`);
  }
  if (!st.isDirectory() && basename(path) !== MANIFEST_FILE) throw new ToolError(`${path} is a file but not a ${MANIFEST_FILE}; give the tool's directory or its manifest`);
  const candidate = st.isDirectory() ? join(path, MANIFEST_FILE) : path;
  let real: string;
  try {
    real = realpathSync(candidate);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw missingManifest(st.isDirectory() ? path : dirname(path), alsoPackage);
    throw new ToolError(`${candidate} cannot be read (${code ?? String(err)}); check its permissions`, 'manifest');
  }
  if (isDirectory(real)) throw new ToolError(`${candidate} is a directory; ${MANIFEST_FILE} must be a file`, 'manifest');
  return real;
}

function now(): string {
  return new Date().toISOString();
}

/** Best effort: the id a broken manifest claims, so its failure lands in that tool's stream. */
function claimedId(manifestPath: string): string | null {
  try {
    const id = (parseToml(readFileSync(manifestPath, 'utf8')) as { id?: unknown }).id;
    return typeof id === 'string' && isToolId(id) ? id : null;
  } catch {
    return null;
  }
}

function failed(entry: ToolInstallEntry, id: string | null, err: unknown): never {
  const reason = err instanceof Error ? err.message : String(err);
  const step = err instanceof ToolError ? err.step : 'register';
  if (id) {
    try {
      entry.observe(id, 'INSTALL_FAILED', { step, reason });
    } catch {
      /* the failure itself is what the user must see */
    }
  }
  throw err;
}

/** An install's request: taken in any state (a run killed half-way must not leave the stream stuck). */
async function requestInstall(entry: ToolInstallEntry, id: string, request: { source: Record<string, unknown>; force: boolean; upgrade: boolean }): Promise<void> {
  const r = await entry.submit({ type: 'tool.install', id, ...request });
  if (!r.ok) throw new ToolError(r.reason, 'request');
}

function registerAliases(index: ToolIndex, m: Manifest, notes: string[], force: boolean): void {
  for (const [alias, target] of Object.entries(index.aliases)) if (target === m.id && !m.aliases.includes(alias)) delete index.aliases[alias];
  for (const alias of m.aliases) {
    const owner = index.aliases[alias];
    if (owner && owner !== m.id && !force) {
      notes.push(`alias ${alias} already belongs to ${owner}; kept it there (use --force to move it to ${m.id})`);
      continue;
    }
    index.aliases[alias] = m.id;
  }
}

function shimNotes(paths: ToolPaths, skipped: string[], notes: string[], env: NodeJS.ProcessEnv): void {
  for (const s of skipped) notes.push(`${s} exists and is not a Flow shim; left it alone (run the tool with f cli)`);
  if (!binOnPath(paths, env)) notes.push(pathAdvice(paths));
}

async function buildIfNeeded(paths: ToolPaths, entry: ToolInstallEntry, id: string, root: string, loaded: LoadedManifest): Promise<BuildResult | null> {
  const spec = buildSpecOf({ id, root, manifest: loaded.manifest, manifestSha256: loaded.sha256 });
  if (!spec) return null;
  const built = await ensureBuilt(paths, spec);
  entry.observe(id, 'BUILT', { cacheKey: built.key, output: built.output });
  return built;
}

// ---------------------------------------------------------------------------------------------
// Link installs: validate, record where the source is, never copy it.

/**
 * Called under the tool lock (infra/tool-install.ts). The machine decides from the stream, once
 * the stream says what the files say: already linked here (nothing to do), linked elsewhere
 * (refused without --force), or registered; its effect then builds if the manifest asks and
 * writes the link record, the index and the shims.
 */
export async function installLink(paths: ToolPaths, path: string, entry: ToolInstallEntry, opts: InstallOptions = {}): Promise<InstallOutcome> {
  const env = opts.env ?? process.env;
  const manifestPath = locateManifest(path, opts.alsoPackage ?? null);
  const root = dirname(manifestPath);
  const force = opts.force ?? false;
  const request = { source: { kind: 'link', path: root }, force, upgrade: !!opts.upgrade };

  let loaded: LoadedManifest;
  try {
    loaded = loadManifest(manifestPath);
  } catch (err) {
    const id = err instanceof ManifestError ? claimedId(manifestPath) : null;
    if (id) await requestInstall(entry, id, request);
    failed(entry, id, err);
  }
  const m = loaded.manifest;
  const id = m.id;
  await requestInstall(entry, id, request);
  entry.observe(id, 'MANIFEST_VALIDATED', { manifestPath, manifestSha256: loaded.sha256, language: m.language, version: m.install?.version ?? null });

  try {
    let existing: LinkRecord | null = null;
    try {
      existing = readLinkRecord(paths, id);
    } catch (err) {
      if (!force) throw new ToolError(`${(err as Error).message} (use --force to replace it)`, 'register');
    }
    bringInLine(entry, paths, id);
    const proposed = await propose(entry, id, { candidate: { kind: 'link', installId: null, sourceRoot: root }, replaces: opts.upgrade?.replaces, force }, (decision) =>
      writeLink(paths, entry, { id, root, manifestPath, loaded, existing, force, env, upgrade: !!opts.upgrade }, decision),
    );
    if (proposed.outcome === 'refused') throw new ToolError(proposed.reason, 'register');
    if (proposed.outcome === 'already-installed') {
      return { id, kind: 'link', status: 'already-installed', active: true, root, installId: null, shims: [], notes: [`${id} is already installed (linked to ${root})`] } satisfies InstallOutcome;
    }
    return await proposed.done;
  } catch (err) {
    failed(entry, id, err);
  }
}

interface LinkWork {
  id: string;
  root: string;
  manifestPath: string;
  loaded: LoadedManifest;
  existing: LinkRecord | null;
  force: boolean;
  env: NodeJS.ProcessEnv;
  upgrade: boolean;
}

/** The file work of a link the machine registered: build if asked, then the record, the index and the shims; undone on failure. */
async function writeLink(paths: ToolPaths, entry: ToolInstallEntry, w: LinkWork, decision: RegisterDecision): Promise<InstallOutcome> {
  const { id, root, manifestPath, loaded, existing, force, env } = w;
  const m = loaded.manifest;
  const notes: string[] = [];
  const built = await buildIfNeeded(paths, entry, id, root, loaded);

  const index = readIndex(paths);
  const shadowed = installsOf(index, id);
  const before = { link: existing, index: JSON.stringify(index) };
  const record: LinkRecord = { version: 1, id, source_root: root, manifest_path: manifestPath, installed_at: now(), manifest_sha256: loaded.sha256 };
  if (m.description) record.description = m.description;
  try {
    writeLinkRecord(paths, record);
    index.active[id] = 'link';
    registerAliases(index, m, notes, force);
    writeIndex(paths, index);
    const shims = writeShims(paths, [id, ...m.aliases.filter((a) => index.aliases[a] === id)], {
      id,
      argv: built ? [built.output] : m.exec.run,
      cwd: root,
      env: m.exec.env,
      description: `link ${root}`,
    });
    forgetPlans(paths);
    for (const s of shadowed) notes.push(`${id}: the link now runs instead of remote install ${s.install_id} (${s.version}); f cli list shows both`);
    shimNotes(paths, shims.skipped, notes, env);
    const registration: Registration = { kind: 'link', installId: null, sourceRoot: root, manifestPath, version: m.install?.version ?? null, installedAt: record.installed_at };
    entry.observe(id, 'REGISTERED', { registration, replaced: decision.replaced, active: decision.active, shims: shims.written });
    return { id, kind: 'link', status: w.upgrade ? 'upgraded' : 'installed', active: decision.active, root, installId: null, shims: shims.written, notes } satisfies InstallOutcome;
  } catch (err) {
    // Put back what was there: a failed install leaves nothing registered.
    if (before.link) writeLinkRecord(paths, before.link);
    else rmSync(linkRecordPath(paths, id), { force: true });
    writeFileSync(paths.index, JSON.stringify(JSON.parse(before.index), null, 2) + '\n');
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Remote installs: catalog record → download → sha256 → safe unpack → atomic move → register.

function bundleRoot(bundle: string, id: string): string {
  const own = join(bundle, MANIFEST_FILE);
  let rel = '.';
  if (!existsSync(own)) {
    const dirs = readdirNames(bundle);
    if (dirs.length === 1 && existsSync(join(bundle, dirs[0]!, MANIFEST_FILE))) rel = dirs[0]!;
  }
  const manifest = join(bundle, rel, MANIFEST_FILE);
  if (existsSync(manifest)) {
    const claimed = loadManifest(manifest).manifest.id;
    if (claimed !== id) throw new ToolError(`the bundle's own ${MANIFEST_FILE} says id "${claimed}", but the catalog record says "${id}"; refusing`, 'manifest');
  }
  return rel;
}

function readdirNames(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * One install attempt, recorded: INSTALL_REQUESTED, then whatever `body` records, and on any
 * failure of it (a ToolError or not) INSTALL_FAILED with the step it stopped at.
 */
async function recorded<T>(entry: ToolInstallEntry, id: string, request: { source: Record<string, unknown>; force: boolean; upgrade: boolean }, body: () => Promise<T>): Promise<T> {
  await requestInstall(entry, id, request);
  try {
    return await body();
  } catch (err) {
    failed(entry, id, err);
  }
}

/** Work directories of remote installs are named <install_id>-…; one exists only while its f holds the tool lock. */
const WORK_DIR = /^cli_[0-9a-z]{26}-/;

/**
 * A fresh work directory for one install, removed whatever happens. Called under the tool lock,
 * so any other work directory is what a killed `f install` left behind: it goes too.
 */
async function withWorkDir<T>(paths: ToolPaths, installId: string, fn: (work: string) => Promise<T>): Promise<T> {
  mkdirSync(paths.tmp, { recursive: true });
  for (const n of readdirNames(paths.tmp)) if (WORK_DIR.test(n)) rmSync(join(paths.tmp, n), { recursive: true, force: true });
  const work = mkdtempSync(join(paths.tmp, `${installId}-`));
  try {
    return await fn(work);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function buildNote(id: string, installId: string, build: readonly string[]): string {
  return `${id} has a build step from the catalog (${build.join(' ')}) that Flow has not run; to build it: f install --build ${installId}`;
}

function writeRecordFile(dir: string, remote: RemoteInstall, manifestSha256: string, build: BuildConsent | null): void {
  writeFileAtomic(join(dir, 'record.json'), JSON.stringify({ ...remote, manifest_sha256: manifestSha256, ...(build ? { build } : {}) }, null, 2) + '\n');
}

/**
 * `f install --build <install_id>` for an install that is already there: the user now allows its
 * build, so it runs, and the shims run the built program. A failed build takes the consent back.
 */
async function buildInstalled(paths: ToolPaths, entry: ToolInstallEntry, index: ToolIndex, remote: RemoteInstall, env: NodeJS.ProcessEnv, decision: RegisterDecision): Promise<InstallOutcome> {
  const dir = installDir(paths, remote.install_id);
  const root = join(dir, remote.root);
  const recordFile = join(dir, 'record.json');
  const before = readFileSync(recordFile, 'utf8');
  const saved = JSON.parse(before) as { manifest_sha256?: string };
  const loaded = loadManifest(join(dir, 'manifest.toml'));
  writeRecordFile(dir, remote, saved.manifest_sha256 ?? loaded.sha256, 'approved');
  let built: BuildResult | null;
  try {
    built = await buildIfNeeded(paths, entry, remote.id, root, loaded);
  } catch (err) {
    writeFileAtomic(recordFile, before);
    throw err;
  }
  const active = decision.active;
  const notes: string[] = [];
  let shims: string[] = [];
  if (active && built) {
    const m = loaded.manifest;
    const out = writeShims(paths, [remote.id, ...m.aliases.filter((a) => index.aliases[a] === remote.id)], { id: remote.id, argv: [built.output], cwd: root, env: m.exec.env, description: `remote ${remote.install_id} (${remote.version})` });
    shims = out.written;
    shimNotes(paths, out.skipped, notes, env);
  }
  forgetPlans(paths);
  const registration: Registration = { kind: 'remote', installId: remote.install_id, sourceRoot: root, manifestPath: join(dir, 'manifest.toml'), version: remote.version, installedAt: remote.installed_at };
  entry.observe(remote.id, 'REGISTERED', { registration, replaced: decision.replaced, active, shims });
  return { id: remote.id, kind: 'remote', status: 'installed', active, root, installId: remote.install_id, shims, notes };
}

/**
 * Called under the tool lock (infra/tool-install.ts). The machine decides from the stream, once
 * the stream says what the files say: installed already (nothing to download), or registered,
 * active or beside what provides the id already; its effect then stages the bundle and registers it.
 */
export async function installRemote(paths: ToolPaths, installId: string, entry: ToolInstallEntry, opts: InstallOptions = {}): Promise<InstallOutcome> {
  const env = opts.env ?? process.env;
  const force = opts.force ?? false;
  const base = catalogBase(env, opts.catalog);
  // Until the record is read there is no tool id, so no stream to record a failure in: the user sees it.
  const record: CatalogRecord = await fetchCatalogRecord(base, installId, catalogFetch(base, env));
  const id = record.id;
  const request = { source: { kind: 'remote', installId, catalog: base }, force, upgrade: !!opts.upgrade };
  return recorded(entry, id, request, async () => {
    const manifestToml = manifestToToml(record.manifest);
    const manifestSha256 = createHash('sha256').update(manifestToml).digest('hex');
    entry.observe(id, 'MANIFEST_VALIDATED', { manifestPath: `${base}${installId}.json`, manifestSha256, language: record.manifest.language, version: record.version });
    const limits = installLimits(env);
    const index = readIndex(paths);
    const present = existsSync(installDir(paths, installId)) ? index.installs[installId] : undefined;
    // What is installed decides, not what the catalog says today.
    let spec: BuildSpec | null = null;
    if (present) {
      try {
        const installed = loadManifest(join(installDir(paths, installId), 'manifest.toml'));
        spec = buildSpecOf({ id, root: join(installDir(paths, installId), present.root), manifest: installed.manifest, manifestSha256: installed.sha256 });
      } catch {
        /* a broken install: f cli doctor names it; f install --force replaces it */
      }
    }
    const rebuild = !!(present && !force && opts.build && spec && buildBlocked(paths, spec));
    bringInLine(entry, paths, id);
    const proposed = await propose(entry, id, { candidate: { kind: 'remote', installId, sourceRoot: null }, replaces: opts.upgrade?.replaces, force, rebuild }, (decision) =>
      rebuild ? buildInstalled(paths, entry, index, present!, env, decision) : withWorkDir(paths, installId, (work) => stageRemote(paths, entry, { installId, base, record, manifestToml, manifestSha256, limits, index, work }, opts, decision)),
    );
    if (proposed.outcome === 'refused') throw new ToolError(proposed.reason, 'register');
    if (proposed.outcome === 'already-installed') {
      const notes = [`${id} ${record.version} (${installId}) is already installed`];
      if (spec && buildBlocked(paths, spec)) notes.push(buildNote(id, installId, spec.build));
      return { id, kind: 'remote', status: 'already-installed', active: index.active[id] === installId, root: installDir(paths, installId), installId, shims: [], notes } satisfies InstallOutcome;
    }
    return proposed.done;
  });
}

interface Staging {
  installId: string;
  base: string;
  record: CatalogRecord;
  manifestToml: string;
  manifestSha256: string;
  limits: InstallLimits;
  index: ToolIndex;
  work: string;
}

/** Download, verify, unpack, move into place, build if asked, register; undone on any failure. */
async function stageRemote(paths: ToolPaths, entry: ToolInstallEntry, s: Staging, opts: InstallOptions, decision: RegisterDecision): Promise<InstallOutcome> {
  const { installId, base, record, limits, index, work } = s;
  const env = opts.env ?? process.env;
  const force = opts.force ?? false;
  const id = record.id;
  const notes: string[] = [];
  const finalDir = installDir(paths, installId);
  mkdirSync(paths.installs, { recursive: true });
  let moved = false;
  try {
    // 1. download and verify, before a single byte is unpacked
    const url = resolveSourceUrl(base, record.source.url);
    const archive = join(work, 'bundle');
    const progress = await downloadProgress(`${id} ${record.version}`, (received, total) => entry.observe(id, 'DOWNLOAD_PROGRESS', { receivedBytes: received, totalBytes: total }), opts.tty);
    const hooks = {
      onStart: (total: number | null) => {
        entry.observe(id, 'DOWNLOAD_STARTED', { url: url.href, totalBytes: total });
        progress.onStart?.(total);
      },
      onData: progress.onData,
    };
    let got;
    try {
      got = await download(url, archive, limits.maxDownloadBytes, hooks, { policy: sourcePolicy(base, limits.allowLocalBundles), idleMs: limits.idleMs, step: 'download', what: 'the bundle url' });
    } finally {
      progress.stop();
    }
    entry.observe(id, 'DOWNLOADED', { bytes: got.bytes });
    if (got.sha256 !== record.source.sha256) {
      // The download's own digest is not shown: it is not the bundle, and may be any file's.
      throw new ToolError(`checksum mismatch for ${url.href}: the catalog says sha256 ${record.source.sha256}, but the ${got.bytes} bytes downloaded hash differently; nothing was installed (the bundle changed after it was published, or the record is wrong)`, 'checksum');
    }
    entry.observe(id, 'CHECKSUM_VERIFIED', { sha256: got.sha256 });

    // 2. unpack into the work dir, refused at the first hostile entry
    const staged = join(work, 'install');
    const bundle = join(staged, 'bundle');
    mkdirSync(bundle, { recursive: true });
    const stats = await unpackBundle(archive, bundle, limits, url.href);
    entry.observe(id, 'EXTRACTED', { entries: stats.entries, bytes: stats.bytes });
    const rel = bundleRoot(bundle, id);
    writeFileSync(join(staged, 'manifest.toml'), s.manifestToml);
    const build = record.manifest.exec.build ?? null;
    const consent: BuildConsent | null = build ? (opts.build ? 'approved' : 'needed') : null;
    const remote: RemoteInstall = {
      install_id: installId,
      id,
      version: record.version,
      published_at: record.published_at,
      installed_at: now(),
      catalog: base,
      source: { kind: 'tarball', url: url.href, sha256: got.sha256 },
      root: rel === '.' ? 'bundle' : `bundle/${rel}`,
      aliases: record.manifest.aliases,
      ...(record.description ?? record.manifest.description ? { description: record.description ?? record.manifest.description } : {}),
    };
    writeRecordFile(staged, remote, s.manifestSha256, consent);

    // 3. move into place in one rename (a forced reinstall swaps the old one out first)
    if (existsSync(finalDir)) renameSync(finalDir, join(work, 'previous'));
    renameSync(staged, finalDir);
    moved = true;
    const root = join(finalDir, remote.root);
    // A catalog's build is its publisher's code: it runs at install time only when asked (--build).
    const built = consent === 'approved' ? await buildIfNeeded(paths, entry, id, root, loadManifest(join(finalDir, 'manifest.toml'))) : null;
    if (consent === 'needed') notes.push(buildNote(id, installId, build!));

    // 4. register as the machine decided: a new remote install never silently takes over an id someone else provides
    const replaces = decision.replaced;
    const active = decision.active;
    for (const r of replaces) {
      if (r.installId && r.installId !== installId) {
        delete index.installs[r.installId];
        rmSync(installDir(paths, r.installId), { recursive: true, force: true });
      }
    }
    index.installs[installId] = remote;
    let shims: string[] = [];
    if (active) {
      index.active[id] = installId;
      registerAliases(index, record.manifest, notes, force);
    } else {
      const link = existsSync(linkRecordPath(paths, id));
      const others = [...(link ? [`link ${readLinkRecord(paths, id)?.source_root ?? ''}`] : []), ...installsOf(index, id).filter((i) => i.install_id !== installId).map((i) => `remote ${i.install_id} (${i.version})`)];
      notes.push(`${id} is already provided by ${others.join(', ')}, which stays active; ${installId} is installed beside it (f cli list shows the conflict; f install ${installId} --force makes it the active one)`);
    }
    writeIndex(paths, index);
    if (active) {
      const blocked = consent === 'needed' ? buildBlocked(paths, { id, root, build: build! }) : null;
      const out = writeShims(paths, [id, ...record.manifest.aliases.filter((a) => index.aliases[a] === id)], {
        id,
        argv: built ? [built.output] : blocked ? needsBuildArgv(blocked.message) : record.manifest.exec.run,
        cwd: root,
        env: record.manifest.exec.env,
        description: `remote ${installId} (${record.version})`,
      });
      shims = out.written;
      shimNotes(paths, out.skipped, notes, env);
    }
    forgetPlans(paths);
    const registration: Registration = { kind: 'remote', installId, sourceRoot: root, manifestPath: join(finalDir, 'manifest.toml'), version: record.version, installedAt: remote.installed_at };
    entry.observe(id, 'REGISTERED', { registration, replaced: replaces, active, shims });
    return { id, kind: 'remote', status: opts.upgrade ? 'upgraded' : 'installed', active, root, installId, shims, notes } satisfies InstallOutcome;
  } catch (err) {
    if (moved) {
      rmSync(finalDir, { recursive: true, force: true });
      if (existsSync(join(work, 'previous'))) renameSync(join(work, 'previous'), finalDir);
    }
    throw err;
  }
}
