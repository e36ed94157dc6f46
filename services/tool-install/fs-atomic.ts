import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';

let counter = 0;

/** Writes a whole file or nothing: a reader sees the old content or the new, never a part. */
export function writeFileAtomic(file: string, content: string, mode?: number): void {
  mkdirSync(dirname(file), { recursive: true });
  // pid + counter is unique among writers; node:crypto is not loaded for this (f cli start-up).
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${++counter}.tmp`);
  try {
    writeFileSync(tmp, content, mode === undefined ? undefined : { mode });
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
