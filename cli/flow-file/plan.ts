import { existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DEFAULT_RESTART_POLICY, type BackendConfig, type RestartPolicy } from '../../actors/backend-child/index.js';
import type { LoadedFlowFile } from './load.js';

/**
 * The plan of an apply: what the file wants against what runs, and nothing else. Pure: the
 * current state and the ownership record come in, a list of steps goes out.
 *
 * - In the file, not running → create. In the file and running with other settings → change
 *   (removed and created again: backends, instances and tunnels take their settings at
 *   creation). The same → unchanged.
 * - Not in the file: removed only if an earlier apply of this file created it (the ownership
 *   record); anything else (added by hand, by another file) is left alone.
 */
export type EntryKind = 'backend' | 'instance' | 'tunnel' | 'tool';
export const ENTRY_KINDS: readonly EntryKind[] = ['backend', 'instance', 'tunnel', 'tool'];

export interface DesiredBackend {
  kind: 'backend';
  name: string;
  config: Omit<BackendConfig, 'restart'> & { restart: RestartPolicy };
  autostart: boolean;
}
export interface DesiredInstance {
  kind: 'instance';
  name: string;
  directory: string;
  start: boolean;
}
export interface DesiredTunnel {
  kind: 'tunnel';
  name: string;
  port: number;
  command: string[] | null;
}
export interface DesiredTool {
  kind: 'tool';
  name: string;
  /** The tool's root directory, as a link install records it (symlinks resolved). */
  root: string;
}
export type Desired = DesiredBackend | DesiredInstance | DesiredTunnel | DesiredTool;

/** What runs now, per kind and name, in the same terms as Desired (only what a file can say). */
export type CurrentBackend = Omit<DesiredBackend, 'kind' | 'name' | 'autostart'>;
export interface CurrentState {
  backend: Map<string, CurrentBackend>;
  instance: Map<string, Omit<DesiredInstance, 'kind' | 'name' | 'start'>>;
  tunnel: Map<string, Omit<DesiredTunnel, 'kind' | 'name'>>;
  tool: Map<string, Omit<DesiredTool, 'kind' | 'name'>>;
}

export interface EntryRef {
  kind: EntryKind;
  name: string;
}

export type PlanStep =
  | { action: 'create'; kind: EntryKind; name: string; desired: Desired }
  | { action: 'change'; kind: EntryKind; name: string; desired: Desired; changes: string[] }
  | { action: 'unchanged'; kind: EntryKind; name: string }
  | { action: 'remove'; kind: EntryKind; name: string };

const DEFAULT_WATCH_EXTENSIONS = ['.ts', '.js', '.json'];
const DEFAULT_STOP_GRACE_MS = 5000;

/** The root a link install would record for a tool path: the directory holding flow-tool.toml. */
function toolRoot(path: string): string {
  const dir = existsSync(path) && !statSync(path).isDirectory() ? dirname(path) : path;
  try {
    return realpathSync(dir);
  } catch {
    return dir;
  }
}

/** The file's entries with every path made absolute and every default filled in. */
export function desiredOf(file: LoadedFlowFile): Desired[] {
  const { spec, dir } = file;
  const out: Desired[] = [];
  for (const [name, b] of Object.entries(spec.backends)) {
    const cwd = resolve(dir, b.cwd ?? '.');
    out.push({
      kind: 'backend',
      name,
      autostart: b.autostart,
      config: {
        command: b.command,
        cwd,
        env: b.env,
        port: b.port ?? null,
        watch: b.watch.map((w) => resolve(cwd, w)),
        watchExtensions: b.watch_extensions ?? DEFAULT_WATCH_EXTENSIONS,
        stopGraceMs: b.stop_grace_ms ?? DEFAULT_STOP_GRACE_MS,
        restart: { maxRestarts: b.restart.max_restarts, backoffUnitMs: b.restart.backoff_ms, stableAfterMs: b.restart.stable_after_ms },
      },
    });
  }
  for (const [name, i] of Object.entries(spec.instances)) out.push({ kind: 'instance', name, directory: resolve(dir, i.directory), start: i.start });
  for (const [name, t] of Object.entries(spec.tunnels)) out.push({ kind: 'tunnel', name, port: t.port, command: t.command ?? null });
  for (const [name, t] of Object.entries(spec.tools)) out.push({ kind: 'tool', name, root: toolRoot(resolve(dir, t.path)) });
  return out;
}

/** A backend config as the API shows it, in the terms of the file (a log from before policies has none: the defaults). */
export function currentBackend(config: BackendConfig): CurrentBackend {
  return { config: { ...config, restart: config.restart ?? DEFAULT_RESTART_POLICY } };
}

const show = (v: unknown): string => (v === null || v === undefined ? 'none' : JSON.stringify(v));

function fieldChanges(was: Record<string, unknown>, wanted: Record<string, unknown>, prefix = ''): string[] {
  const out: string[] = [];
  for (const key of Object.keys(wanted)) {
    const a = was[key];
    const b = wanted[key];
    if (JSON.stringify(a) === JSON.stringify(b)) continue;
    if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b) && key === 'restart') {
      out.push(...fieldChanges(a as Record<string, unknown>, b as Record<string, unknown>, `${prefix}${key}.`));
      continue;
    }
    // env values may be secrets: name what changed, never the values.
    out.push(key === 'env' ? `env (${envKeysChanged(a, b).join(', ')})` : `${prefix}${key} ${show(a)} → ${show(b)}`);
  }
  return out;
}

function envKeysChanged(a: unknown, b: unknown): string[] {
  const x = (a ?? {}) as Record<string, string>;
  const y = (b ?? {}) as Record<string, string>;
  return [...new Set([...Object.keys(x), ...Object.keys(y)])].filter((k) => x[k] !== y[k]).sort();
}

function changesOf(d: Desired, current: CurrentState): string[] | null {
  switch (d.kind) {
    case 'backend': {
      const c = current.backend.get(d.name);
      return c ? fieldChanges(c.config, d.config) : null;
    }
    case 'instance': {
      const c = current.instance.get(d.name);
      return c ? fieldChanges(c, { directory: d.directory }) : null;
    }
    case 'tunnel': {
      const c = current.tunnel.get(d.name);
      return c ? fieldChanges(c, { port: d.port, command: d.command }) : null;
    }
    case 'tool': {
      const c = current.tool.get(d.name);
      return c ? fieldChanges(c, { root: d.root }) : null;
    }
  }
}

export function planApply(desired: Desired[], current: CurrentState, owned: EntryRef[]): PlanStep[] {
  const steps: PlanStep[] = [];
  const wanted = new Set(desired.map((d) => `${d.kind}:${d.name}`));
  // Removals first: a name or a port an old entry holds may be what a new one needs.
  for (const o of owned) {
    if (wanted.has(`${o.kind}:${o.name}`)) continue;
    if (current[o.kind].has(o.name)) steps.push({ action: 'remove', kind: o.kind, name: o.name });
  }
  for (const d of desired) {
    const changes = changesOf(d, current);
    if (changes === null) steps.push({ action: 'create', kind: d.kind, name: d.name, desired: d });
    else if (changes.length) steps.push({ action: 'change', kind: d.kind, name: d.name, desired: d, changes });
    else steps.push({ action: 'unchanged', kind: d.kind, name: d.name });
  }
  return steps;
}

/** What the ownership record says after the plan has been carried out (steps that failed excluded). */
export function ownedAfter(owned: EntryRef[], done: PlanStep[]): EntryRef[] {
  const key = (e: EntryRef) => `${e.kind}:${e.name}`;
  const out = new Map(owned.map((e) => [key(e), e]));
  for (const s of done) {
    if (s.action === 'remove') out.delete(key(s));
    if (s.action === 'create' || s.action === 'change') out.set(key(s), { kind: s.kind, name: s.name });
  }
  return [...out.values()].sort((a, b) => key(a).localeCompare(key(b)));
}
