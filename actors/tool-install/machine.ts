import { z } from 'zod';
import { assign, setup, type SnapshotFrom } from 'xstate';
import { defineKind, HOST_ID_REGEX, HostIdSchema, type MachineEvents } from '../kind.js';

/**
 * tool-install (seed 001): the life of one tool id on one host. Every step of `f install`,
 * `f cli upgrade` and `f cli uninstall` is an event in the stream `tool-install:<id>_<host>`:
 * installs are per host (each machine has its own $FLOW_HOME/cli), so two hosts that install
 * the same tool write two streams, and a gateway that reads every host's log keeps both. The files under
 * $FLOW_HOME/cli (links/, installs/, index.json) are what `f cli` reads; this stream is the
 * history of how they came to be, and what the dashboard shows. The machine only follows; the
 * conflict rules are decided under a file lock in services/tool-install, where the files are.
 */

/**
 * A callable tool id: lower-case letters, digits and dashes. It becomes a file name
 * (links/<id>.toml, bin/<id>), so nothing else may pass. services/tool-install/tool-id.ts holds
 * the same pattern for the fast `f cli` path (which must not load zod); a test keeps them equal.
 */
export const TOOL_ID_REGEX = /^[a-z0-9][a-z0-9-]{0,63}$/;
export const ToolIdSchema = z.string().regex(TOOL_ID_REGEX, 'a tool id is 1-64 lower-case letters, digits or "-", starting with a letter or digit');

/** `cli_<ulid>` (or `cli:<ulid>` as typed); always stored as `cli_` + lower-case ULID. */
export const INSTALL_ID_REGEX = /^cli_[0-9a-hjkmnp-tv-z]{26}$/;
export const InstallIdSchema = z.string().regex(INSTALL_ID_REGEX, 'an install id is cli_ followed by a 26-character ULID');

export const InstallSourceSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('link'), path: z.string().min(1) }),
  z.object({ kind: z.literal('remote'), installId: InstallIdSchema, catalog: z.string().min(1) }),
  z.object({ kind: z.literal('package'), name: z.string().min(1), backend: z.string().min(1) }),
]);
export type InstallSource = z.infer<typeof InstallSourceSchema>;

export const RegistrationSchema = z.object({
  kind: z.enum(['link', 'remote', 'package']),
  installId: InstallIdSchema.nullable(),
  sourceRoot: z.string().min(1),
  manifestPath: z.string().nullable(),
  version: z.string().nullable(),
  installedAt: z.string().min(1),
});
export type Registration = z.infer<typeof RegistrationSchema>;

export const RegistrationRefSchema = z.object({ kind: RegistrationSchema.shape.kind, installId: InstallIdSchema.nullable() });
export type RegistrationRef = z.infer<typeof RegistrationRefSchema>;

export const InstallStepSchema = z.enum(['request', 'manifest', 'catalog', 'download', 'checksum', 'extract', 'build', 'register', 'backend']);

const bytes = z.number().int().nonnegative();

export const toolInstallEvents = {
  INSTALL_REQUESTED: z.object({ source: InstallSourceSchema, force: z.boolean(), upgrade: z.boolean() }),
  MANIFEST_VALIDATED: z.object({
    manifestPath: z.string().min(1),
    manifestSha256: z.string().regex(/^[0-9a-f]{64}$/),
    language: z.string(),
    version: z.string().nullable(),
  }),
  DOWNLOAD_STARTED: z.object({ url: z.string().min(1), totalBytes: bytes.nullable() }),
  /** Checkpoints (quarters of a known size, or every few MiB), not every chunk. */
  DOWNLOAD_PROGRESS: z.object({ receivedBytes: bytes, totalBytes: bytes.nullable() }),
  DOWNLOADED: z.object({ bytes }),
  CHECKSUM_VERIFIED: z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
  EXTRACTED: z.object({ entries: z.number().int().nonnegative(), bytes }),
  BUILT: z.object({ cacheKey: z.string().min(1), output: z.string().min(1) }),
  REGISTERED: z.object({
    registration: RegistrationSchema,
    /** Registrations of this id that this one replaced (a forced relink, an upgrade). */
    replaced: z.array(RegistrationRefSchema),
    /** Whether `f cli <id>` now runs this registration (a remote install never silently shadows another). */
    active: z.boolean(),
    shims: z.array(z.string()),
  }),
  ALREADY_INSTALLED: z.object({ sourceRoot: z.string().min(1) }),
  INSTALL_FAILED: z.object({ step: InstallStepSchema, reason: z.string().min(1) }),
  UNINSTALL_REQUESTED: z.object({ installId: InstallIdSchema.nullable() }),
  UNINSTALLED: z.object({ removed: z.array(RegistrationRefSchema), shimsRemoved: z.array(z.string()) }),
} as const;

type Data<K extends keyof typeof toolInstallEvents> = z.infer<(typeof toolInstallEvents)[K]>;
export type ToolInstallEvent = MachineEvents<typeof toolInstallEvents>;

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

type Ev<T extends ToolInstallEvent['type']> = Extract<ToolInstallEvent, { type: T }>;

const sameRef = (a: RegistrationRef, b: RegistrationRef): boolean => a.kind === b.kind && a.installId === b.installId;

export const toolInstallMachine = setup({
  types: { context: {} as ToolInstallContext, events: {} as ToolInstallEvent },
  guards: {
    stillRegistered: ({ context }) => context.registrations.length > 0,
    nothingLeft: ({ context, event }) => {
      const removed = (event as Ev<'UNINSTALLED'>).removed;
      return context.registrations.every((r) => removed.some((x) => sameRef(x, r)));
    },
  },
  actions: {
    startRequest: assign(({ event }) => {
      const e = event as Ev<'INSTALL_REQUESTED'>;
      return { request: { source: e.source, force: e.force, upgrade: e.upgrade, at: e.at }, manifest: null, download: null };
    }),
    recordManifest: assign(({ event }) => {
      const { type: _t, at: _a, ...data } = event as Ev<'MANIFEST_VALIDATED'>;
      return { manifest: data };
    }),
    startDownload: assign(({ event }) => {
      const e = event as Ev<'DOWNLOAD_STARTED'>;
      return { download: { url: e.url, receivedBytes: 0, totalBytes: e.totalBytes, sha256: null } };
    }),
    recordProgress: assign(({ context, event }) => {
      const e = event as Ev<'DOWNLOAD_PROGRESS'> | Ev<'DOWNLOADED'>;
      const d = context.download ?? { url: '', receivedBytes: 0, totalBytes: null, sha256: null };
      const receivedBytes = e.type === 'DOWNLOADED' ? e.bytes : e.receivedBytes;
      const totalBytes = e.type === 'DOWNLOADED' ? e.bytes : e.totalBytes;
      return { download: { ...d, receivedBytes, totalBytes } };
    }),
    recordChecksum: assign(({ context, event }) => {
      const e = event as Ev<'CHECKSUM_VERIFIED'>;
      return { download: context.download && { ...context.download, sha256: e.sha256 } };
    }),
    register: assign(({ context, event }) => {
      const e = event as Ev<'REGISTERED'>;
      const reg = e.registration;
      const kept = context.registrations
        .filter((r) => !sameRef(r, reg) && !e.replaced.some((x) => sameRef(x, r)))
        .map((r) => (e.active ? { ...r, active: false } : r));
      return { registrations: [...kept, { ...reg, active: e.active }], installs: context.installs + 1, lastError: null };
    }),
    recordFailure: assign(({ context, event }) => {
      const { type: _t, ...rest } = event as Ev<'INSTALL_FAILED'>;
      return { lastError: rest, failures: context.failures + 1 };
    }),
    unregister: assign(({ context, event }) => {
      const e = event as Ev<'UNINSTALLED'>;
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

export const toolInstallKind = defineKind({
  streamType: 'tool-install',
  machine: toolInstallMachine,
  events: toolInstallEvents,
  commands: new Set(['INSTALL_REQUESTED', 'UNINSTALL_REQUESTED']),
  status: toolInstallStatus,
});

/**
 * `tool-install:<tool id>_<host id>`. A tool id has no "_", so the first one splits the two.
 * (Logs written before installs were per host hold `tool-install:<tool id>`.)
 */
export function toolInstallStreamId(id: string, host: string): string {
  return `tool-install:${ToolIdSchema.parse(id)}_${HostIdSchema.parse(host)}`;
}

const bare = (r: RegExp) => r.source.replace(/^\^|\$$/g, '');
const TOOL_INSTALL_STREAM = new RegExp(`^tool-install:(${bare(TOOL_ID_REGEX)})(?:_(${bare(HOST_ID_REGEX)}))?$`);

/** The tool and host a tool-install stream is about; host null for a stream named before installs were per host. */
export function parseToolInstallStreamId(streamId: string): { id: string; host: string | null } | undefined {
  const m = TOOL_INSTALL_STREAM.exec(streamId);
  return m ? { id: m[1]!, host: m[2] ?? null } : undefined;
}
