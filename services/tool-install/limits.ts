import { ToolError } from './errors.js';
import { DEFAULT_EXTRACT_LIMITS, type ExtractLimits } from './extract.js';

export interface InstallLimits extends ExtractLimits {
  maxDownloadBytes: number;
  /** A catalog document (index.json, <install_id>.json). */
  maxCatalogBytes: number;
  /** How long a download or catalog request may go without a byte before it is abandoned. */
  idleMs: number;
  /** FLOW_CLI_ALLOW_LOCAL_BUNDLES=1: a catalog may point at loopback, link-local and private hosts. */
  allowLocalBundles: boolean;
}

function num(env: NodeJS.ProcessEnv, name: string, fallback: number, unit: string): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new ToolError(`${name} must be a positive whole number of ${unit}, not "${raw}"`, 'request');
  return n;
}

/** What reading a catalog needs (before the record names a tool, so before anything is recorded). */
export function catalogLimits(env: NodeJS.ProcessEnv = process.env): Pick<InstallLimits, 'maxCatalogBytes' | 'idleMs' | 'allowLocalBundles'> {
  return {
    maxCatalogBytes: num(env, 'FLOW_CLI_MAX_CATALOG_BYTES', 16 * 1024 * 1024, 'bytes'),
    idleMs: num(env, 'FLOW_CLI_DOWNLOAD_IDLE_MS', 30_000, 'milliseconds'),
    allowLocalBundles: env.FLOW_CLI_ALLOW_LOCAL_BUNDLES === '1',
  };
}

/** Limits for remote installs; the environment can lower (or raise) each one. */
export function installLimits(env: NodeJS.ProcessEnv = process.env): InstallLimits {
  return {
    ...catalogLimits(env),
    maxDownloadBytes: num(env, 'FLOW_CLI_MAX_DOWNLOAD_BYTES', 256 * 1024 * 1024, 'bytes'),
    maxBytes: num(env, 'FLOW_CLI_MAX_UNPACKED_BYTES', DEFAULT_EXTRACT_LIMITS.maxBytes, 'bytes'),
    maxEntryBytes: num(env, 'FLOW_CLI_MAX_ENTRY_BYTES', DEFAULT_EXTRACT_LIMITS.maxEntryBytes, 'bytes'),
    maxEntries: num(env, 'FLOW_CLI_MAX_ENTRIES', DEFAULT_EXTRACT_LIMITS.maxEntries, 'entries'),
    maxDepth: DEFAULT_EXTRACT_LIMITS.maxDepth,
    maxPathLength: DEFAULT_EXTRACT_LIMITS.maxPathLength,
  };
}
