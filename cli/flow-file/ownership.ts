import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ENTRY_KINDS, type EntryKind, type EntryRef } from './plan.js';

/**
 * Which entries an apply of a given flow.toml created: `$FLOW_HOME/applied/<hash of its path>.json`.
 * A later apply of the same file removes only these when they leave the file; what a user added
 * by hand, or another file created, is never touched.
 */
const OwnershipSchema = z.object({
  file: z.string(),
  entries: z.array(z.object({ kind: z.enum(ENTRY_KINDS as [EntryKind, ...EntryKind[]]), name: z.string() })),
});

export function ownershipPath(home: string, file: string): string {
  return join(home, 'applied', `${createHash('sha256').update(file).digest('hex').slice(0, 24)}.json`);
}

/** Unreadable or damaged: nothing is owned (so nothing is removed), and the caller says so. */
export function readOwnership(home: string, file: string): { entries: EntryRef[]; problem: string | null } {
  const path = ownershipPath(home, file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], problem: null };
    return { entries: [], problem: `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)}): nothing will be removed` };
  }
  try {
    const parsed = OwnershipSchema.safeParse(JSON.parse(text));
    if (parsed.success && parsed.data.file === file) return { entries: parsed.data.entries, problem: null };
  } catch {
    // damaged JSON: said below
  }
  return { entries: [], problem: `${path} is damaged: nothing will be removed (delete it to start afresh)` };
}

/** Written whole and renamed into place, so a crash leaves the old record or the new one. */
export function writeOwnership(home: string, file: string, entries: EntryRef[]): void {
  const path = ownershipPath(home, file);
  mkdirSync(join(home, 'applied'), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ file, entries }, null, 2) + '\n');
  renameSync(tmp, path);
}
