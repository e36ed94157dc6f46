import type { z } from 'zod';
import { assertEvent, assign, setup, type SnapshotFrom } from 'xstate';
import type { Candidate, KnownRegistration, Registration, RegistrationRef, ToolInstallEvent, toolInstallEvents } from './events.js';

/**
 * tool-install (seed 001): the life of one tool id on one host. Every step of `f install`,
 * `f cli upgrade` and `f cli uninstall` is an event in the stream `tool-install:<id>_<host>`:
 * installs are per host (each machine has its own $FLOW_HOME/cli), so two hosts that install
 * the same tool write two streams, and a gateway that reads every host's log keeps both. The files under
 * $FLOW_HOME/cli (links/, installs/, index.json) are what `f cli` reads; this stream is the
 * history of how they came to be, and what the dashboard shows. The machine decides
 * (REGISTER_REQUESTED): already installed, refused (a link elsewhere without --force), or
 * registered, and then which registration `f cli <id>` runs and which are replaced. The file
 * work it asks for (installFiles) is services/tool-install's, done under its file lock.
 */

type Data<K extends keyof typeof toolInstallEvents> = z.infer<(typeof toolInstallEvents)[K]>;

export interface ToolInstallContext {
  /** Registrations of this id that exist now (links, remote installs, packages). */
  registrations: (Registration & { active: boolean })[];
  request: (Data<'INSTALL_REQUESTED'> & { at: number }) | null;
  manifest: Data<'MANIFEST_VALIDATED'> | null;
  download: { url: string; receivedBytes: number; totalBytes: number | null; sha256: string | null } | null;
  lastError: (Data<'INSTALL_FAILED'> & { at: number }) | null;
  installs: number;
  failures: number;
  /** What the last REGISTER_REQUESTED was decided to be (null until one is, and once it is carried out). */
  decision: Decision | null;
}

/** The machine's answer to a proposed registration that it took. */
export type Decision =
  | { outcome: 'already-installed' }
  | {
      outcome: 'register';
      candidate: Candidate;
      /** Whether `f cli <id>` runs it once registered. */
      active: boolean;
      /** The registrations of this id it replaces. */
      replaced: RegistrationRef[];
    };

type RegisterRequest = Data<'REGISTER_REQUESTED'>;

const sameRef = (a: RegistrationRef, b: RegistrationRef): boolean => a.kind === b.kind && a.installId === b.installId;

/** The candidate is registered already, and nothing asks to register it again. */
function alreadyInstalled(regs: readonly KnownRegistration[], e: RegisterRequest): boolean {
  if (e.force || e.rebuild || e.replaces.length > 0) return false;
  return regs.some((r) => sameRef(r, e.candidate) && (e.candidate.kind !== 'link' || r.sourceRoot === e.candidate.sourceRoot));
}

/** The link this candidate may not replace without --force: one of the same id, to another source. */
function linkElsewhere(regs: readonly KnownRegistration[], e: RegisterRequest): KnownRegistration | undefined {
  if (e.candidate.kind !== 'link' || e.force) return undefined;
  return regs.find((r) => r.kind === 'link' && r.sourceRoot !== e.candidate.sourceRoot);
}

/**
 * Which registration runs, and what goes: a link always runs (it replaces the link before it); a
 * remote install runs when nothing else provides the id, when forced, or when it replaces the one
 * that ran. It never silently shadows another. Registering an installed one again keeps its place.
 */
function decide(regs: readonly KnownRegistration[], e: RegisterRequest): Extract<Decision, { outcome: 'register' }> {
  const c = e.candidate;
  if (c.kind === 'link') return { outcome: 'register', candidate: c, active: true, replaced: regs.some((r) => r.kind === 'link') ? [{ kind: 'link', installId: null }] : [] };
  const same = regs.find((r) => sameRef(r, c));
  if (e.rebuild && same) return { outcome: 'register', candidate: c, active: same.active, replaced: [] };
  const others = regs.filter((r) => r.kind !== 'package' && !sameRef(r, c) && !e.replaces.some((x) => sameRef(x, r)));
  const wasActive = e.replaces.some((x) => regs.some((r) => sameRef(r, x) && r.active));
  return { outcome: 'register', candidate: c, active: others.length === 0 || e.force || wasActive, replaced: e.replaces };
}

/** Why REGISTER_REQUESTED is refused, in the words `f install` says (null: it is not). */
export function registerRefusal(context: ToolInstallContext, inInstall: boolean, e: RegisterRequest): string | null {
  if (!inInstall) return `no install of ${e.id} is under way`;
  const link = linkElsewhere(context.registrations, e);
  return link && !alreadyInstalled(context.registrations, e) ? `${e.id} is already linked to ${link.sourceRoot}; use --force to link it to ${e.candidate.sourceRoot} instead` : null;
}

export const toolInstallMachine = setup({
  types: { context: {} as ToolInstallContext, events: {} as ToolInstallEvent },
  guards: {
    alreadyInstalled: ({ context, event }) => {
      assertEvent(event, 'REGISTER_REQUESTED');
      return alreadyInstalled(context.registrations, event);
    },
    registrable: ({ context, event }) => {
      assertEvent(event, 'REGISTER_REQUESTED');
      return linkElsewhere(context.registrations, event) === undefined;
    },
    stillRegistered: ({ context }) => context.registrations.length > 0,
    nothingLeft: ({ context, event }) => {
      assertEvent(event, 'UNINSTALLED');
      const removed = event.removed;
      return context.registrations.every((r) => removed.some((x) => sameRef(x, r)));
    },
  },
  actions: {
    startRequest: assign(({ event }) => {
      assertEvent(event, 'INSTALL_REQUESTED');
      const e = event;
      return { request: { source: e.source, force: e.force, upgrade: e.upgrade, at: e.at }, manifest: null, download: null, decision: null };
    }),
    noteAlreadyInstalled: assign({ decision: { outcome: 'already-installed' } as Decision }),
    decide: assign(({ context, event }) => {
      assertEvent(event, 'REGISTER_REQUESTED');
      return { decision: decide(context.registrations, event) };
    }),
    /** The effect: services/tool-install writes what the decision says (links/, installs/, index.json, shims). */
    installFiles: () => {},
    found: assign(({ context, event }) => {
      assertEvent(event, 'FOUND');
      // Packages are not in those files: what the stream knows of them stays.
      return { registrations: [...context.registrations.filter((r) => r.kind === 'package'), ...event.registrations] };
    }),
    recordManifest: assign(({ event }) => {
      assertEvent(event, 'MANIFEST_VALIDATED');
      const { type: _t, at: _a, ...data } = event;
      return { manifest: data };
    }),
    startDownload: assign(({ event }) => {
      assertEvent(event, 'DOWNLOAD_STARTED');
      const e = event;
      return { download: { url: e.url, receivedBytes: 0, totalBytes: e.totalBytes, sha256: null } };
    }),
    recordProgress: assign(({ context, event }) => {
      assertEvent(event, ['DOWNLOAD_PROGRESS', 'DOWNLOADED']);
      const e = event;
      const d = context.download ?? { url: '', receivedBytes: 0, totalBytes: null, sha256: null };
      const receivedBytes = e.type === 'DOWNLOADED' ? e.bytes : e.receivedBytes;
      const totalBytes = e.type === 'DOWNLOADED' ? e.bytes : e.totalBytes;
      return { download: { ...d, receivedBytes, totalBytes } };
    }),
    recordChecksum: assign(({ context, event }) => {
      assertEvent(event, 'CHECKSUM_VERIFIED');
      const e = event;
      return { download: context.download && { ...context.download, sha256: e.sha256 } };
    }),
    register: assign(({ context, event }) => {
      assertEvent(event, 'REGISTERED');
      const e = event;
      const reg = e.registration;
      const kept = context.registrations
        .filter((r) => !sameRef(r, reg) && !e.replaced.some((x) => sameRef(x, r)))
        .map((r) => (e.active ? { ...r, active: false } : r));
      return { registrations: [...kept, { ...reg, active: e.active }], installs: context.installs + 1, lastError: null, decision: null };
    }),
    recordFailure: assign(({ context, event }) => {
      assertEvent(event, 'INSTALL_FAILED');
      const { type: _t, ...rest } = event;
      return { lastError: rest, failures: context.failures + 1, decision: null };
    }),
    unregister: assign(({ context, event }) => {
      assertEvent(event, 'UNINSTALLED');
      const e = event;
      const left = context.registrations.filter((r) => !e.removed.some((x) => sameRef(x, r)));
      // The one resolution falls back to: links, then the newest remote install, then packages.
      const order = (r: Registration) => (r.kind === 'link' ? 0 : r.kind === 'remote' ? 1 : 2);
      if (left.length > 0 && !left.some((r) => r.active)) {
        const next = [...left].sort((a, b) => order(a) - order(b) || b.installedAt.localeCompare(a.installedAt))[0]!;
        return { registrations: left.map((r) => ({ ...r, active: r === next })) };
      }
      return { registrations: left };
    }),
  },
}).createMachine({
  id: 'tool-install',
  initial: 'absent',
  context: { registrations: [], request: null, manifest: null, download: null, lastError: null, installs: 0, failures: 0, decision: null },
  // A new request or an uninstall is taken in any state: the files are the truth, and a run of
  // `f install` that was killed half-way must not leave the stream stuck.
  on: {
    INSTALL_REQUESTED: { target: '.installing', reenter: true, actions: 'startRequest' },
    UNINSTALL_REQUESTED: '.uninstalling',
    FOUND: { actions: 'found' },
    UNINSTALLED: [
      { guard: 'nothingLeft', target: '.uninstalled', actions: 'unregister' },
      { target: '.installed', actions: 'unregister' },
    ],
  },
  states: {
    absent: {},
    installing: {
      initial: 'resolving',
      on: {
        MANIFEST_VALIDATED: { actions: 'recordManifest' },
        DOWNLOAD_STARTED: { target: '.downloading', actions: 'startDownload' },
        REGISTER_REQUESTED: [
          { guard: 'alreadyInstalled', target: 'installed', actions: 'noteAlreadyInstalled' },
          { guard: 'registrable', actions: ['decide', 'installFiles'] },
        ],
        BUILT: '.building',
        REGISTERED: { target: 'installed', actions: 'register' },
        ALREADY_INSTALLED: 'installed',
        INSTALL_FAILED: [
          // A failed upgrade or a refused replacement leaves the earlier install in place.
          { guard: 'stillRegistered', target: 'installed', actions: 'recordFailure' },
          { target: 'failed', actions: 'recordFailure' },
        ],
      },
      states: {
        resolving: {},
        downloading: {
          on: {
            DOWNLOAD_PROGRESS: { actions: 'recordProgress' },
            DOWNLOADED: { target: 'verifying', actions: 'recordProgress' },
          },
        },
        verifying: { on: { CHECKSUM_VERIFIED: { target: 'extracting', actions: 'recordChecksum' } } },
        extracting: { on: { EXTRACTED: 'registering' } },
        building: {},
        registering: {},
      },
    },
    installed: {},
    failed: {},
    uninstalling: {},
    uninstalled: {},
  },
});

export type ToolInstallSnapshot = SnapshotFrom<typeof toolInstallMachine>;

/** `installed`, `failed`, ... or the step an install is at (`downloading`, `extracting`, ...). */
export function toolInstallStatus(snapshot: ToolInstallSnapshot): string {
  const v = snapshot.value as string | { installing: string };
  return typeof v === 'string' ? v : v.installing;
}

