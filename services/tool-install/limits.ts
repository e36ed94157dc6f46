import { DEFAULT_EXTRACT_LIMITS, type ExtractLimits } from './extract.js';

export interface InstallLimits extends ExtractLimits {
  maxDownloadBytes: number;
}

function num(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive whole number of bytes/entries, not "${raw}"`);
  return n;
}

/** Size limits for remote installs; the environment can lower (or raise) each one. */
export function installLimits(env: NodeJS.ProcessEnv = process.env): InstallLimits {
  return {
    maxDownloadBytes: num(env, 'FLOW_CLI_MAX_DOWNLOAD_BYTES', 256 * 1024 * 1024),
    maxBytes: num(env, 'FLOW_CLI_MAX_UNPACKED_BYTES', DEFAULT_EXTRACT_LIMITS.maxBytes),
    maxEntries: num(env, 'FLOW_CLI_MAX_ENTRIES', DEFAULT_EXTRACT_LIMITS.maxEntries),
    maxDepth: DEFAULT_EXTRACT_LIMITS.maxDepth,
  };
}
