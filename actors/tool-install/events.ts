import { z } from 'zod';
import type { MachineEvents } from '../kind.js';

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

/** A registration as the stream knows it: the registration, and whether `f cli <id>` runs it. */
export const KnownRegistrationSchema = RegistrationSchema.extend({ active: z.boolean() });
export type KnownRegistration = z.infer<typeof KnownRegistrationSchema>;

/**
 * What an install proposes to register, before any file is written: a link (its source root), or a
 * remote install (its install id; where its root is inside the bundle is known only once unpacked).
 */
export const CandidateSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('link'), installId: z.null(), sourceRoot: z.string().min(1) }),
  z.object({ kind: z.literal('remote'), installId: InstallIdSchema, sourceRoot: z.null() }),
]);
export type Candidate = z.infer<typeof CandidateSchema>;

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
  /**
   * The request the machine decides on (services/tool-install, once the manifest or catalog record
   * is valid): already installed (nothing to do), refused (a link of this id elsewhere, without
   * --force), or registered, with which registration is active and which are replaced decided
   * here. The file work it asks for (installFiles) then reports REGISTERED or INSTALL_FAILED.
   */
  REGISTER_REQUESTED: z.object({
    id: ToolIdSchema,
    candidate: CandidateSchema,
    /** Registrations an upgrade replaces. */
    replaces: z.array(RegistrationRefSchema),
    force: z.boolean(),
    /** Register an installed remote install again (`f install --build` of one whose build never ran). */
    rebuild: z.boolean(),
  }),
  /** Written by logs before REGISTER_REQUESTED decided it; folded still. */
  ALREADY_INSTALLED: z.object({ sourceRoot: z.string().min(1) }),
  INSTALL_FAILED: z.object({ step: InstallStepSchema, reason: z.string().min(1) }),
  UNINSTALL_REQUESTED: z.object({ installId: InstallIdSchema.nullable() }),
  UNINSTALLED: z.object({ removed: z.array(RegistrationRefSchema), shimsRemoved: z.array(z.string()) }),
  /**
   * What the files under $FLOW_HOME/cli hold for this id (links and remote installs), recorded
   * before a decision when the stream says otherwise (a log that was replaced, a record removed by
   * hand): the machine decides from the stream, so the stream is first brought in line with them.
   */
  FOUND: z.object({ registrations: z.array(KnownRegistrationSchema) }),
} as const;

export type ToolInstallEvent = MachineEvents<typeof toolInstallEvents>;
