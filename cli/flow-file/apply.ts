import { api, FlowApiError } from '../client.js';
import type { BackendView } from '../../gateway/backend-view.js';
import type { LoadedFlowFile } from './load.js';
import { readOwnership, writeOwnership } from './ownership.js';
import { currentBackend, desiredOf, ownedAfter, planApply, type CurrentState, type Desired, type EntryRef, type PlanStep } from './plan.js';

/**
 * `f apply`: the plan of a flow.toml against the running Flow, then each step as the ordinary
 * API command a user would send (the gateway parses, the host judges). Tools are linked as
 * `f install <path>` links them (in this FLOW_HOME, no server needed).
 */
export type Call = <T>(method: string, path: string, body?: unknown) => Promise<T>;

export function callAt(base: string, notRunning: string): Call {
  return <T>(method: string, path: string, body?: unknown): Promise<T> => api<T>(method, path, body, { base, notRunning });
}

interface InstanceView {
  id: string;
  status: string;
  directory: string;
}
interface TunnelView {
  name: string;
  status: string;
  port: number | null;
}

const enc = encodeURIComponent;

async function currentState(call: Call, home: string, desired: Desired[], owned: EntryRef[]): Promise<CurrentState> {
  const { backends } = await call<{ backends: BackendView[] }>('GET', '/api/backends');
  const { instances } = await call<{ instances: InstanceView[] }>('GET', '/api/instances');
  const { tunnels } = await call<{ tunnels: TunnelView[] }>('GET', '/api/tunnels');
  const state: CurrentState = { backend: new Map(), instance: new Map(), tunnel: new Map(), tool: new Map() };
  // A retired backend (its host's log is gone) is no one's: a create replaces it.
  for (const b of backends) if (b.config && b.status !== 'retired') state.backend.set(b.name, currentBackend(b.config));
  for (const i of instances) state.instance.set(i.id, { directory: i.directory });
  for (const t of tunnels) {
    // The list does not show a tunnel's command; its state does.
    const s = await call<{ context: { config: { command: string[] | null } | null } }>('GET', `/api/actors/${enc(`tunnel:${t.name}`)}/state`);
    state.tunnel.set(t.name, { port: t.port ?? 0, command: s.context.config?.command ?? null });
  }
  const names = new Set([...desired, ...owned].filter((e) => e.kind === 'tool').map((e) => e.name));
  if (names.size) {
    const { toolPaths } = await import('../../services/tool-install/paths.js');
    const { readLinkRecord } = await import('../../services/tool-install/link-record.js');
    const paths = toolPaths(home);
    for (const id of names) {
      let root: string | null = null;
      try {
        root = readLinkRecord(paths, id)?.source_root ?? null;
      } catch {
        root = '(a damaged link record)';
      }
      if (root) state.tool.set(id, { root });
    }
  }
  return state;
}

/** Waits until a removed entry is gone from reads (its process stopped), so its name can be created again. */
async function untilGone(call: Call, path: string, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await call('GET', path);
    } catch (err) {
      if (err instanceof FlowApiError && err.status === 404) return;
      throw err;
    }
    if (Date.now() > deadline) throw new Error(`${what} was asked to stop but is still there after ${Math.round(timeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function label(kind: string, name: string): string {
  return `${kind} ${name}`;
}

async function remove(call: Call, home: string, kind: PlanStep['kind'], name: string): Promise<void> {
  switch (kind) {
    case 'backend': {
      const b = await call<BackendView>('DELETE', `/api/backends/${enc(name)}`);
      return untilGone(call, `/api/backends/${enc(name)}`, label(kind, name), (b.config?.stopGraceMs ?? 5000) + 15_000);
    }
    case 'instance':
      await call('DELETE', `/api/instances/${enc(name)}`);
      return untilGone(call, `/api/instances/${enc(name)}`, label(kind, name), 30_000);
    case 'tunnel':
      await call('POST', `/api/tunnels/${enc(name)}/remove`);
      return untilGone(call, `/api/tunnels/${enc(name)}`, label(kind, name), 30_000);
    case 'tool': {
      const { toolPaths } = await import('../../services/tool-install/paths.js');
      const { uninstallTool } = await import('../../services/tool-install/uninstall.js');
      const { withToolInstall } = await import('../../infra/tool-install.js');
      const paths = toolPaths(home);
      await withToolInstall(paths, (entry) => uninstallTool(paths, name, entry, 'link'));
    }
  }
}

/** Creates an entry; returns its status in a few words. */
async function create(call: Call, home: string, d: Desired, replacing: boolean): Promise<string> {
  switch (d.kind) {
    case 'backend': {
      const b = await call<BackendView>('POST', '/api/backends', { name: d.name, ...d.config, port: d.config.port ?? undefined, autostart: d.autostart });
      return b.status;
    }
    case 'instance': {
      const i = await call<InstanceView>('POST', '/api/instances', { id: d.name, directory: d.directory, start: d.start });
      return i.status;
    }
    case 'tunnel': {
      const t = await call<TunnelView>('POST', '/api/tunnels', { name: d.name, port: d.port, ...(d.command ? { command: d.command } : {}) });
      return t.status;
    }
    case 'tool': {
      const { toolPaths } = await import('../../services/tool-install/paths.js');
      const { installLink } = await import('../../services/tool-install/install.js');
      const { withToolInstall } = await import('../../infra/tool-install.js');
      const { loadManifest } = await import('../../services/tool-install/manifest.js');
      const { join } = await import('node:path');
      const id = loadManifest(join(d.root, 'flow-tool.toml')).manifest.id;
      if (id !== d.name) throw new Error(`${d.root}/flow-tool.toml says id = "${id}", but the file lists it as tools.${d.name}`);
      const paths = toolPaths(home);
      const out = await withToolInstall(paths, (entry) => installLink(paths, d.root, entry, { force: replacing }));
      return `linked to ${out.root}`;
    }
  }
}

export interface ApplyOptions {
  call: Call;
  home: string;
  file: LoadedFlowFile;
  dryRun: boolean;
  out: (line: string) => void;
}

export interface ApplyResult {
  file: string;
  plan: PlanStep[];
  done: PlanStep[];
  failed: { step: PlanStep; error: string }[];
  dryRun: boolean;
}

const SIGN = { create: '+', change: '~', remove: '-', unchanged: '=' } as const;

export function describeStep(s: PlanStep): string {
  const what = s.action === 'change' ? `change: ${s.changes.join('; ')}` : s.action === 'remove' ? 'remove (an earlier apply of this file created it)' : s.action;
  return `  ${SIGN[s.action]} ${label(s.kind, s.name).padEnd(24)} ${what}`;
}

export function summary(plan: PlanStep[]): string {
  const n = (a: PlanStep['action']) => plan.filter((s) => s.action === a).length;
  return `${n('create')} to create, ${n('change')} to change, ${n('remove')} to remove, ${n('unchanged')} unchanged`;
}

export async function applyFlowFile(opts: ApplyOptions): Promise<ApplyResult> {
  const { call, home, file, out } = opts;
  const desired = desiredOf(file);
  const ownership = readOwnership(home, file.path);
  if (ownership.problem) out(`warning: ${ownership.problem}`);
  const current = await currentState(call, home, desired, ownership.entries);
  const plan = planApply(desired, current, ownership.entries);
  // An owned entry someone removed by hand is no longer anyone's.
  const wanted = new Set(desired.map((d) => `${d.kind}:${d.name}`));
  let owned = ownership.entries.filter((o) => wanted.has(`${o.kind}:${o.name}`) || current[o.kind].has(o.name));
  out(`Plan for ${file.path}:`);
  for (const s of plan) out(describeStep(s));
  out(summary(plan));
  const result: ApplyResult = { file: file.path, plan, done: [], failed: [], dryRun: opts.dryRun };
  if (opts.dryRun) {
    out('dry run: nothing was changed');
    return result;
  }
  for (const step of plan) {
    if (step.action === 'unchanged') continue;
    try {
      if (step.action === 'remove' || step.action === 'change') await remove(call, home, step.kind, step.name);
      if (step.action === 'remove') out(`removed ${label(step.kind, step.name)}`);
      else out(`${step.action === 'create' ? 'created' : 'changed'} ${label(step.kind, step.name)} (${await create(call, home, step.desired, step.action === 'change')})`);
      result.done.push(step);
    } catch (err) {
      result.failed.push({ step, error: (err as Error).message });
      out(`failed to ${step.action} ${label(step.kind, step.name)}: ${(err as Error).message}`);
    }
    // Recorded after each step: an apply cut short still knows what it created.
    owned = ownedAfter(owned, result.done);
    writeOwnership(home, file.path, owned);
  }
  writeOwnership(home, file.path, owned);
  return result;
}
