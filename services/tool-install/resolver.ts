import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ToolIdSchema } from '../../actors/tool-install/events.js';
import type { BuildSpec } from './build-cache.js';
import { scanDevRoots, type BrokenManifest, type DevScan } from './dev-roots.js';
import { ToolError } from './errors.js';
import { installsOf, readIndex, type RemoteInstall, type ToolIndex } from './index-file.js';
import { listLinkIds, readLinkRecord, type LinkRecord } from './link-record.js';
import { loadManifest, type LoadedManifest, type Manifest } from './manifest.js';
import { installDir, linkRecordPath, type ToolPaths } from './paths.js';
import type { RunPlan } from './run-plan.js';
import { describeBadToolId } from './tool-id.js';

export type SourceKind = 'link' | 'remote' | 'dev';

/** One place a tool id can come from; `error` when its manifest or record cannot be used. */
export interface Candidate {
  id: string;
  kind: SourceKind;
  root: string;
  manifestPath: string;
  loaded: LoadedManifest | null;
  error: string | null;
  link?: LinkRecord;
  install?: RemoteInstall;
}

export interface ResolvedTool {
  id: string;
  kind: SourceKind;
  root: string;
  manifestPath: string;
  manifest: Manifest;
  manifestSha256: string;
  installId: string | null;
  version: string | null;
  /** The alias the user typed, when it was one. */
  via: string | null;
  /** Other registrations of the same id that this one shadows. */
  shadows: Candidate[];
  /** Files that, unchanged, make this resolution still true (for the run cache). */
  guards: string[];
}

function tryLoad(file: string): { loaded: LoadedManifest | null; error: string | null } {
  try {
    return { loaded: loadManifest(file), error: null };
  } catch (err) {
    return { loaded: null, error: err instanceof Error ? err.message : String(err) };
  }
}

export function linkCandidate(paths: ToolPaths, id: string): Candidate | null {
  let link: LinkRecord | null;
  try {
    link = readLinkRecord(paths, id);
  } catch (err) {
    return { id, kind: 'link', root: '', manifestPath: linkRecordPath(paths, id), loaded: null, error: (err as Error).message };
  }
  if (!link) return null;
  const c: Candidate = { id, kind: 'link', root: link.source_root, manifestPath: link.manifest_path, link, ...tryLoad(link.manifest_path) };
  if (!existsSync(link.source_root)) c.error = `the linked source ${link.source_root} no longer exists (f install <path> --force to relink, or f cli uninstall ${id})`;
  else if (c.loaded && c.loaded.manifest.id !== id) c.error = `${link.manifest_path} now says id = "${c.loaded.manifest.id}", but it was linked as "${id}" (f cli upgrade ${id} relinks it)`;
  return c;
}

export function remoteCandidate(paths: ToolPaths, install: RemoteInstall): Candidate {
  const dir = installDir(paths, install.install_id);
  const manifestPath = join(dir, 'manifest.toml');
  const c: Candidate = { id: install.id, kind: 'remote', root: join(dir, install.root), manifestPath, install, ...tryLoad(manifestPath) };
  if (c.loaded && c.loaded.manifest.id !== install.id) c.error = `${manifestPath} says id = "${c.loaded.manifest.id}", not "${install.id}"`;
  return c;
}

function devCandidates(scan: DevScan, id: string): Candidate[] {
  return scan.tools.filter((t) => t.loaded.manifest.id === id).map((t) => ({ id, kind: 'dev' as const, root: t.root, manifestPath: t.loaded.path, loaded: t.loaded, error: null }));
}

/**
 * Which registration of an id runs: the one index.json marks active, else links, then remote
 * installs (newest first), then dev roots. An explicit install always beats a dev root.
 */
export function chooseActive(index: ToolIndex, candidates: readonly Candidate[]): Candidate | null {
  const marked = index.active[candidates[0]?.id ?? ''];
  if (marked) {
    const hit = candidates.find((c) => (marked === 'link' ? c.kind === 'link' : c.install?.install_id === marked));
    if (hit) return hit;
  }
  return candidates.find((c) => c.kind === 'link') ?? candidates.find((c) => c.kind === 'remote') ?? candidates.find((c) => c.kind === 'dev') ?? null;
}

function installedCandidates(paths: ToolPaths, index: ToolIndex, id: string): Candidate[] {
  const out: Candidate[] = [];
  const link = linkCandidate(paths, id);
  if (link) out.push(link);
  for (const i of installsOf(index, id)) out.push(remoteCandidate(paths, i));
  return out;
}

function toResolved(paths: ToolPaths, c: Candidate, all: readonly Candidate[], via: string | null): ResolvedTool {
  if (c.error || !c.loaded) throw new ToolError(`${c.id} (${c.kind}${c.install ? ` ${c.install.install_id}` : ''}): ${c.error ?? 'no manifest'}`);
  const guards = [c.manifestPath, paths.index];
  if (c.kind === 'link') guards.push(linkRecordPath(paths, c.id));
  return {
    id: c.id,
    kind: c.kind,
    root: c.root,
    manifestPath: c.manifestPath,
    manifest: c.loaded.manifest,
    manifestSha256: c.loaded.sha256,
    installId: c.install?.install_id ?? c.link?.install_id ?? null,
    version: c.install?.version ?? null,
    via,
    shadows: all.filter((x) => x !== c),
    guards,
  };
}

/** Resolves `name` (an id or an alias) to the tool `f cli` runs; a clear error when there is none. */
export function resolveTool(paths: ToolPaths, name: string, env: NodeJS.ProcessEnv = process.env): ResolvedTool {
  if (!ToolIdSchema.safeParse(name).success) throw new ToolError(describeBadToolId(name));
  const index = readIndex(paths);
  let scan: DevScan | null = null;
  const lookup = (id: string): Candidate[] => {
    const installed = installedCandidates(paths, index, id);
    if (installed.length > 0) {
      // Dev-root copies are listed as shadowed, but scanning is skipped on this hot path.
      return installed;
    }
    scan ??= scanDevRoots(paths, env);
    return devCandidates(scan, id);
  };

  let via: string | null = null;
  let candidates = lookup(name);
  if (candidates.length === 0) {
    const target = index.aliases[name] ?? (scan ??= scanDevRoots(paths, env)).tools.find((t) => t.loaded.manifest.aliases.includes(name))?.loaded.manifest.id;
    if (target) {
      via = name;
      candidates = lookup(target);
    }
  }
  if (candidates.length === 0) {
    const broken = ((scan as DevScan | null) ?? scanDevRoots(paths, env)).broken.filter((b) => b.path.includes(`/${name}/`));
    const hint = broken.length > 0 ? `; a manifest that may be it is broken: ${broken.map((b) => b.error).join('; ')}` : '';
    throw new ToolError(`no tool "${name}": not linked, not installed, and not in a dev root (f cli list shows what there is)${hint}`);
  }
  const devOnly = candidates.every((c) => c.kind === 'dev');
  if (devOnly && candidates.length > 1) {
    throw new ToolError(`${candidates.length} dev-root tools claim id "${candidates[0]!.id}": ${candidates.map((c) => c.root).join(', ')}; f install the one you mean`);
  }
  return toResolved(paths, chooseActive(index, candidates)!, candidates, via);
}

export function buildSpecOf(r: Pick<ResolvedTool, 'id' | 'root' | 'manifest' | 'manifestSha256'>): BuildSpec | null {
  const e = r.manifest.exec;
  if (!e.build) return null;
  return { id: r.id, root: r.root, binaryName: r.manifest.binary_name, build: e.build, output: e.output, sources: e.sources, env: e.env, manifestSha256: r.manifestSha256 };
}

export function planOf(r: ResolvedTool): RunPlan {
  return { id: r.id, kind: r.kind, argv: r.manifest.exec.run, cwd: r.root, env: r.manifest.exec.env, build: buildSpecOf(r) };
}

export interface ListedTool {
  id: string;
  kind: SourceKind;
  root: string;
  manifestPath: string;
  installId: string | null;
  version: string | null;
  language: string | null;
  description: string | null;
  aliases: string[];
  active: boolean;
  /** When another registration of the same id is the one that runs. */
  shadowedBy: string | null;
  error: string | null;
}

export interface ToolListing {
  tools: ListedTool[];
  /** Dev-root manifests that do not parse or validate, each with its error. */
  broken: BrokenManifest[];
  /** Ids with more than one registration: which one runs, and what else claims the id. */
  conflicts: { id: string; active: string; others: string[] }[];
}

function label(c: Candidate): string {
  return c.kind === 'remote' ? `remote ${c.install!.install_id}` : `${c.kind} ${c.root}`;
}

/** Everything `f cli` can run, grouped by id; one broken manifest never hides the rest. */
export function listTools(paths: ToolPaths, env: NodeJS.ProcessEnv = process.env): ToolListing {
  const index = readIndex(paths);
  const scan = scanDevRoots(paths, env);
  const byId = new Map<string, Candidate[]>();
  const add = (c: Candidate) => byId.set(c.id, [...(byId.get(c.id) ?? []), c]);
  for (const id of listLinkIds(paths)) {
    const c = linkCandidate(paths, id);
    if (c) add(c);
  }
  for (const i of Object.values(index.installs).sort((a, b) => b.installed_at.localeCompare(a.installed_at))) add(remoteCandidate(paths, i));
  for (const t of scan.tools) add({ id: t.loaded.manifest.id, kind: 'dev', root: t.root, manifestPath: t.loaded.path, loaded: t.loaded, error: null });

  const tools: ListedTool[] = [];
  const conflicts: ToolListing['conflicts'] = [];
  for (const id of [...byId.keys()].sort()) {
    const cs = byId.get(id)!;
    const active = chooseActive(index, cs);
    if (cs.length > 1) conflicts.push({ id, active: active ? label(active) : '-', others: cs.filter((c) => c !== active).map(label) });
    for (const c of cs) {
      const m = c.loaded?.manifest;
      tools.push({
        id,
        kind: c.kind,
        root: c.root,
        manifestPath: c.manifestPath,
        installId: c.install?.install_id ?? c.link?.install_id ?? null,
        version: c.install?.version ?? null,
        language: m?.language ?? null,
        description: m?.description ?? c.link?.description ?? c.install?.description ?? null,
        aliases: m?.aliases ?? [],
        active: c === active,
        shadowedBy: c === active || !active ? null : label(active),
        error: c.error,
      });
    }
  }
  return { tools, broken: scan.broken, conflicts };
}
