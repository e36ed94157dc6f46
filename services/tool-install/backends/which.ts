import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The absolute path of `program` on PATH, or null. */
export function which(program: string, env: NodeJS.ProcessEnv = process.env): string | null {
  if (program.includes('/')) return canRun(program) ? program : null;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, program);
    if (canRun(p)) return p;
  }
  return null;
}

function canRun(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
}
