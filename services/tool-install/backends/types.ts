import type { ToolPaths } from '../paths.js';

export const BACKENDS = ['registry', 'parm', 'flox'] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface PackageRequest {
  name: string;
  version?: string | undefined;
  /** Which program of the package to put on PATH (default: the package's default). */
  bin?: string | undefined;
  force: boolean;
  allowUnverified: boolean;
  registry?: string | undefined;
  paths: ToolPaths;
  env: NodeJS.ProcessEnv;
}

export interface PackageResult {
  backend: BackendName;
  /** Where the program (or its shim) was put. */
  installed: string;
  bin: string;
  notes: string[];
}

/** A backend that cannot serve this request at all (its program is missing, not configured). */
export class BackendUnavailable extends Error {
  override readonly name = 'BackendUnavailable';
}
