import { accessSync, constants, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';

/**
 * Which `opencode` Flow runs: FLOW_OPENCODE_BIN, else `opencode` on PATH, else the one the
 * `opencode-ai` package installed next to Flow. The npm package's bin is a native executable
 * (no Node wrapper), so the PID Flow spawns is the server's own.
 */
export class OpencodeMissingError extends Error {
  override readonly name = 'OpencodeMissingError';
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | null {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (executable(candidate)) return candidate;
  }
  return null;
}

function fromPackage(): string | null {
  try {
    const require = createRequire(import.meta.url);
    const pkgPath = require.resolve('opencode-ai/package.json');
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { bin?: string | Record<string, string> };
    const rel = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.opencode;
    if (!rel) return null;
    const bin = join(dirname(pkgPath), rel);
    return executable(bin) ? bin : null;
  } catch {
    return null;
  }
}

export function resolveOpencodeBin(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.FLOW_OPENCODE_BIN;
  if (configured) {
    if (executable(configured)) return configured;
    throw new OpencodeMissingError(`FLOW_OPENCODE_BIN is ${configured}, which is not an executable file`);
  }
  const found = onPath('opencode', env) ?? fromPackage();
  if (found) return found;
  throw new OpencodeMissingError('no opencode to run: install it (npm i -g opencode-ai, or https://opencode.ai), put it on PATH, or set FLOW_OPENCODE_BIN');
}
