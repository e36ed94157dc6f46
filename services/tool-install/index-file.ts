import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { InstallIdSchema, ToolIdSchema } from '../../actors/tool-install/events.js';
import { ToolError } from './errors.js';
import { writeFileAtomic } from './fs-atomic.js';
import type { ToolPaths } from './paths.js';

const Sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'expected a sha256 as 64 lower-case hex digits');

/** One remote install, as index.json records it; installs/<install_id>/record.json holds the same. */
export const RemoteInstallSchema = z.object({
  install_id: InstallIdSchema,
  id: ToolIdSchema,
  version: z.string().min(1),
  published_at: z.string().min(1),
  installed_at: z.string().min(1),
  catalog: z.string().min(1),
  source: z.object({ kind: z.literal('tarball'), url: z.string().min(1), sha256: Sha256Schema }),
  /** The tool's root, relative to installs/<install_id>/ (the unpacked bundle, or a folder in it). */
  root: z.string().min(1),
  aliases: z.array(ToolIdSchema).default([]),
  description: z.string().optional(),
});
export type RemoteInstall = z.infer<typeof RemoteInstallSchema>;

/** A tool id's chosen registration when there is more than one: "link" or an install id. */
const ActiveSchema = z.union([z.literal('link'), InstallIdSchema]);

export const IndexSchema = z.object({
  version: z.literal(1),
  installs: z.record(InstallIdSchema, RemoteInstallSchema).default({}),
  active: z.record(ToolIdSchema, ActiveSchema).default({}),
  /** alias → tool id, for installed tools (dev-root tools' aliases are read from their manifests). */
  aliases: z.record(ToolIdSchema, ToolIdSchema).default({}),
});
export type ToolIndex = z.infer<typeof IndexSchema>;

export function emptyIndex(): ToolIndex {
  return { version: 1, installs: {}, active: {}, aliases: {} };
}

export function readIndex(paths: ToolPaths): ToolIndex {
  let text: string;
  try {
    text = readFileSync(paths.index, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyIndex();
    throw err;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new ToolError(`${paths.index} is not valid JSON; it is Flow's install index (restore it, or remove it and reinstall remote tools)`);
  }
  const parsed = IndexSchema.safeParse(data);
  if (!parsed.success) {
    throw new ToolError(`${paths.index} is not a valid install index: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

export function writeIndex(paths: ToolPaths, index: ToolIndex): void {
  writeFileAtomic(paths.index, JSON.stringify(IndexSchema.parse(index), null, 2) + '\n');
}

export function installsOf(index: ToolIndex, id: string): RemoteInstall[] {
  return Object.values(index.installs)
    .filter((i) => i.id === id)
    .sort((a, b) => b.installed_at.localeCompare(a.installed_at));
}
