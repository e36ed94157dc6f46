import { readFileSync, readdirSync } from 'node:fs';
import { parse as parseToml, stringify as stringifyToml } from 'smol-toml';
import { z } from 'zod';
import { InstallIdSchema, ToolIdSchema } from '../../actors/tool-install/events.js';
import { ToolError } from './errors.js';
import { linkRecordPath, type ToolPaths } from './paths.js';
import { writeFileAtomic } from './fs-atomic.js';

/** links/<id>.toml: what `f install <path>` writes. It points at the source; it never copies it. */
export const LinkRecordSchema = z.object({
  version: z.literal(1),
  id: ToolIdSchema,
  source_root: z.string().min(1),
  manifest_path: z.string().min(1),
  installed_at: z.string().min(1),
  install_id: InstallIdSchema.optional(),
  description: z.string().optional(),
  /** The manifest's sha256 when it was linked; `f cli doctor` says when it has changed since. */
  manifest_sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
});
export type LinkRecord = z.infer<typeof LinkRecordSchema>;

export function readLinkRecord(paths: ToolPaths, id: string): LinkRecord | null {
  const file = linkRecordPath(paths, ToolIdSchema.parse(id));
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let data: unknown;
  try {
    data = parseToml(text);
  } catch (err) {
    throw new ToolError(`${file} is not valid TOML (${(err as Error).message.split('\n')[0]}); remove it or run f install again with --force`);
  }
  const parsed = LinkRecordSchema.safeParse(data);
  if (!parsed.success) {
    throw new ToolError(`${file} is not a valid link record: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  if (parsed.data.id !== id) throw new ToolError(`${file} records id "${parsed.data.id}", not "${id}"`);
  return parsed.data;
}

export function writeLinkRecord(paths: ToolPaths, record: LinkRecord): string {
  const valid = LinkRecordSchema.parse(record);
  const file = linkRecordPath(paths, valid.id);
  writeFileAtomic(file, stringifyToml(JSON.parse(JSON.stringify(valid)) as Record<string, unknown>) + '\n');
  return file;
}

/** Ids that have a link record (file names that are valid ids; anything else is ignored). */
export function listLinkIds(paths: ToolPaths): string[] {
  let names: string[];
  try {
    names = readdirSync(paths.links);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.toml'))
    .map((n) => n.slice(0, -5))
    .filter((id) => ToolIdSchema.safeParse(id).success)
    .sort();
}
