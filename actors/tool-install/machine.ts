import type { z } from 'zod';
import { assertEvent, assign, setup, type SnapshotFrom } from 'xstate';
import type { Registration, RegistrationRef, ToolInstallEvent, toolInstallEvents } from './events.js';

/**
 * tool-install (seed 001): the life of one tool id on one host. Every step of `f install`,
 * `f cli upgrade` and `f cli uninstall` is an event in the stream `tool-install:<id>_<host>`:
 * installs are per host (each machine has its own $FLOW_HOME/cli), so two hosts that install
 * the same tool write two streams, and a gateway that reads every host's log keeps both. The files under
 * $FLOW_HOME/cli (links/, installs/, index.json) are what `f cli` reads; this stream is the
 * history of how they came to be, and what the dashboard shows. The machine only follows; the
 * conflict rules are decided under a file lock in services/tool-install, where the files are.
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
}

const sameRef = (a: RegistrationRef, b: RegistrationRef): boolean => a.kind === b.kind && a.installId === b.installId;

export const toolInstallMachine = setup({
  types: { context: {} as ToolInstallContext, events: {} as ToolInstallEvent },
  guards: {
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
      return { request: { source: e.source, force: e.force, upgrade: e.upgrade, at: e.at }, manifest: null, download: null };
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
      return { registrations: [...kept, { ...reg, active: e.active }], installs: context.installs + 1, lastError: null };
    }),
    recordFailure: assign(({ context, event }) => {
      assertEvent(event, 'INSTALL_FAILED');
      const { type: _t, ...rest } = event;
      return { lastError: rest, failures: context.failures + 1 };
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
  context: { registrations: [], request: null, manifest: null, download: null, lastError: null, installs: 0, failures: 0 },
  // A new request or an uninstall is taken in any state: the files are the truth, and a run of
  // `f install` that was killed half-way must not leave the stream stuck.
  on: {
    INSTALL_REQUESTED: { target: '.installing', reenter: true, actions: 'startRequest' },
    UNINSTALL_REQUESTED: '.uninstalling',
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

