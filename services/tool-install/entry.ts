import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { commandRouter, type AnyKind } from '../../actors/kind.js';
import { toolInstallKind, toolInstallStreamId, type Candidate, type KnownRegistration, type RegistrationRef, type ToolInstallContext } from '../../actors/tool-install/index.js';
import type { ActorHost } from '../host/actor-host.js';
import { systemClock, type EffectContext } from '../host/effects.js';
import { RejectedCommandError, loadActor, recordEvent } from '../host/writer.js';
import type { EventStore } from '../store/event-store.js';
import { installsOf, readIndex } from './index-file.js';
import { readLinkRecord } from './link-record.js';
import { installDir, type ToolPaths } from './paths.js';
import { isToolId } from './tool-id.js';
import type { RegisterDecision, ToolInstallServices } from './index.js';

/** The data of one tool-install event (validated against actors/tool-install/ when recorded). */
export type StepData = Record<string, unknown>;

/** A tool-install command as `f install` sends it; the entry adds its host. */
export type ToolCommand = { type: 'tool.install' | 'tool.register' | 'tool.uninstall'; id: string } & StepData;

export type Submitted = { ok: true; context: ToolInstallContext | null } | { ok: false; reason: string };

/**
 * How `f install`, `f cli upgrade` and `f cli uninstall` reach the tool-install machine: requests
 * are judged by it (the host's refusal, its reason in words), observations are recorded, and the
 * effects it asks for run in this process (the files are this host's).
 *
 * Two ways, one judgement: with no `f up` running, an ActorHost runs in-process over the log for
 * the command (hostEntry); while one runs (it holds the log's host lock), the events go straight
 * into the shared log through the same writer (directEntry), and its gateway sees them through
 * the store's cross-process polling, as before.
 */
export interface ToolInstallEntry {
  /** The host whose log this is: part of every tool-install stream's name. */
  readonly host: string;
  /** 'host': an ActorHost of this command's own; 'log': straight into a log another host holds. */
  readonly via: 'host' | 'log';
  readonly services: ToolInstallServices;
  /** A request through the machine's judgement. An id that is not valid has no stream: nothing is recorded. */
  submit(command: ToolCommand): Promise<Submitted>;
  /** An observation: always recorded, in order. */
  observe(id: string, type: string, data: StepData): void;
  /** What the stream of `id` holds now (null: no stream). */
  context(id: string): ToolInstallContext | null;
  close(): Promise<void>;
}

const META = { by: 'f install' };
const kind = toolInstallKind as unknown as AnyKind;

function warn(what: string, err: unknown): void {
  process.stderr.write(`f: warning: could not record ${what} (${err instanceof Error ? err.message : String(err)})\n`);
}

/** Through an ActorHost that serves tool-install: its dispatch and observe, as every kind's commands go. */
export function hostEntry(host: ActorHost, services: ToolInstallServices, close: () => Promise<void>): ToolInstallEntry {
  const hostId = host.hostId;
  return {
    host: hostId,
    via: 'host',
    services,
    async submit(command) {
      if (!isToolId(command.id)) return { ok: true, context: null };
      const r = await host.dispatch({ ...command, host: hostId }, META);
      if (r.ok) return { ok: true, context: (host.snapshotOf(r.streamId)?.snapshot.context as ToolInstallContext | undefined) ?? null };
      if (r.error.code === 'conflict' || r.error.code === 'invalid_state') return { ok: false, reason: r.error.message };
      throw new Error(r.error.message);
    },
    observe(id, type, data) {
      if (!isToolId(id)) return;
      host.observe(toolInstallStreamId(id, hostId), type, data, META).catch((err: unknown) => warn(type, err));
    },
    context(id) {
      if (!isToolId(id)) return null;
      return (host.snapshotOf(toolInstallStreamId(id, hostId))?.snapshot.context as ToolInstallContext | undefined) ?? null;
    },
    close,
  };
}

/**
 * Straight into the log, through the host's writer (the same fold and the same refusal), while
 * another process holds the host lock; the effects asked for run here, after the event is stored,
 * and what they observe is recorded after it, in order, as the host's queue would.
 */
export function directEntry(store: EventStore, services: ToolInstallServices, close: () => Promise<void>): ToolInstallEntry {
  const hostId = store.host;
  const route = commandRouter([kind]);
  const queue: (() => void)[] = [];
  let draining = false;
  const drain = () => {
    if (draining) return;
    draining = true;
    try {
      while (queue.length > 0) queue.shift()!();
    } finally {
      draining = false;
    }
  };
  const apply = (streamId: string, type: string, data: StepData) => {
    const rec = recordEvent(store, kind, streamId, loadActor(store, kind, streamId), { type, data, at: Date.now(), meta: META });
    const ctx: EffectContext = {
      streamId,
      name: streamId.slice(streamId.indexOf(':') + 1),
      snapshot: rec.snapshot,
      version: rec.envelope.version,
      spawn: () => {
        throw new Error('tool-install starts no process');
      },
      observe: (t, d) => {
        queue.push(() => {
          try {
            apply(streamId, t, d);
          } catch (err) {
            warn(t, err);
          }
        });
      },
      live: { publish() {}, subscribe: () => () => {}, close: async () => {} },
      clock: systemClock,
    };
    for (const a of rec.actions) if (!a.type.startsWith('xstate.')) services.effects[a.type]?.(ctx, a.params);
    return rec.snapshot;
  };
  const now = (streamId: string) => (store.actor(streamId) ? (loadActor(store, kind, streamId).snapshot.context as ToolInstallContext) : null);
  return {
    host: hostId,
    via: 'log',
    services,
    async submit(command) {
      if (!isToolId(command.id)) return { ok: true, context: null };
      const routed = route({ ...command, host: hostId } as { type: string });
      if (!routed) throw new Error(`tool-install takes no command ${command.type}`);
      const { streamId, type, data } = routed.event;
      try {
        let context: ToolInstallContext | null = null;
        queue.push(() => (context = apply(streamId, type, data).context as ToolInstallContext));
        drain();
        return { ok: true, context };
      } catch (err) {
        if (err instanceof RejectedCommandError) return { ok: false, reason: err.message };
        throw err;
      } finally {
        queue.length = 0;
      }
    },
    observe(id, type, data) {
      if (!isToolId(id)) return;
      queue.push(() => apply(toolInstallStreamId(id, hostId), type, data));
      try {
        drain();
      } catch (err) {
        queue.length = 0;
        warn(type, err);
      }
    },
    context: (id) => (isToolId(id) ? now(toolInstallStreamId(id, hostId)) : null),
    close,
  };
}

export type Proposed<T> = { outcome: 'refused'; reason: string } | { outcome: 'already-installed' } | { outcome: 'register'; decision: RegisterDecision; done: Promise<T> };

/**
 * Proposes a registration to the machine (REGISTER_REQUESTED) with the file work it may ask
 * for: the machine decides (already installed, refused, or registered as active or not, with what
 * it replaces); if it registers, its effect starts `work` with the decision.
 */
export async function propose<T>(
  entry: ToolInstallEntry,
  id: string,
  p: { candidate: Candidate; replaces?: RegistrationRef[]; force: boolean; rebuild?: boolean },
  work: (decision: RegisterDecision) => Promise<T>,
): Promise<Proposed<T>> {
  const job = entry.services.expect(toolInstallStreamId(id, entry.host), work);
  let r: Submitted;
  try {
    r = await entry.submit({ type: 'tool.register', id, candidate: p.candidate, replaces: p.replaces ?? [], force: p.force, rebuild: p.rebuild ?? false });
  } catch (err) {
    job.cancel();
    throw err;
  }
  const decision = job.decision();
  if (decision) return { outcome: 'register', decision, done: job.done };
  job.cancel();
  if (!r.ok) return { outcome: 'refused', reason: r.reason };
  if (r.context?.decision?.outcome !== 'already-installed') throw new Error(`${id}: the registration was taken, but nothing was decided`);
  return { outcome: 'already-installed' };
}

/**
 * The links and remote installs of `id` as the files hold them (what `f cli` resolves): a
 * remote install counts only if its directory is there. The active one is the index's choice,
 * else the order `f cli` falls back to (the link, then the newest remote install).
 */
export function registrationsOnDisk(paths: ToolPaths, id: string, known: readonly KnownRegistration[] = []): KnownRegistration[] {
  let link = null;
  try {
    link = readLinkRecord(paths, id);
  } catch {
    /* an unreadable record: no registration (f install --force replaces it) */
  }
  const index = readIndex(paths);
  const remotes = installsOf(index, id).filter((i) => existsSync(installDir(paths, i.install_id)));
  const keys = [...(link ? ['link'] : []), ...remotes.map((r) => r.install_id)];
  const chosen = index.active[id];
  const active = chosen !== undefined && keys.includes(chosen) ? chosen : keys[0];
  const out: KnownRegistration[] = [];
  if (link) {
    const same = known.find((k) => k.kind === 'link' && k.sourceRoot === link.source_root);
    out.push({ kind: 'link', installId: null, sourceRoot: link.source_root, manifestPath: link.manifest_path, version: same?.version ?? null, installedAt: link.installed_at, active: active === 'link' });
  }
  for (const r of remotes) {
    const dir = installDir(paths, r.install_id);
    out.push({ kind: 'remote', installId: r.install_id, sourceRoot: join(dir, r.root), manifestPath: join(dir, 'manifest.toml'), version: r.version, installedAt: r.installed_at, active: active === r.install_id });
  }
  return out;
}

const keyOf = (r: KnownRegistration) => `${r.kind} ${r.installId ?? ''} ${r.sourceRoot} ${r.active}`;

/**
 * Before the machine decides from its stream, the stream must say what the files say: when they
 * differ (a log replaced or new, a record removed by hand), FOUND records what the files hold.
 */
export function bringInLine(entry: ToolInstallEntry, paths: ToolPaths, id: string): void {
  const known = (entry.context(id)?.registrations ?? []).filter((r) => r.kind !== 'package');
  const disk = registrationsOnDisk(paths, id, known);
  const same = known.length === disk.length && known.map(keyOf).sort().join('\n') === disk.map(keyOf).sort().join('\n');
  if (!same) entry.observe(id, 'FOUND', { registrations: disk });
}
