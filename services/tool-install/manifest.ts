import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseToml, stringify as stringifyToml, TomlError } from 'smol-toml';
import { z } from 'zod';
import { ToolIdSchema } from '../../actors/tool-install/events.js';
import { ManifestError } from './errors.js';
import { FLOW_VERSION } from './paths.js';
import { RESERVED_TOOL_IDS } from './tool-id.js';

export const MANIFEST_FILE = 'flow-tool.toml';

const CallableIdSchema = ToolIdSchema.refine((s) => !RESERVED_TOOL_IDS.includes(s), {
  message: `must not be one of f cli's own commands (${RESERVED_TOOL_IDS.join(', ')})`,
});

const SemverSchema = z.string().regex(/^\d+\.\d+\.\d+$/, 'expected a version such as "0.1.0"');

/** A path inside the tool's root: relative, no "..", so a manifest cannot point Flow elsewhere. */
const InsidePathSchema = z
  .string()
  .min(1, 'expected a non-empty relative path')
  .refine((p) => !p.startsWith('/') && !p.split(/[\\/]/).includes('..'), 'expected a path inside the tool root (relative, without "..")');

const ArgvSchema = z.array(z.string().min(1, 'expected non-empty strings'), { error: 'expected an array of strings such as ["go", "run", "."]' }).min(1, 'expected at least one word (the program to run)');

/** flow-tool.toml, version 1 (docs/external-cli-manifest-v1.md), with the fields seed 001 adds later. */
export const ManifestSchema = z.object({
  version: z.literal(1, { error: 'expected version = 1' }),
  id: CallableIdSchema,
  language: z.string({ error: 'expected a string such as "go", "rust", "node", "python" or "sh"' }).min(1, 'expected a non-empty string'),
  binary_name: z
    .string({ error: 'expected the name of the program the tool builds, such as "codex-session-browser"' })
    .regex(/^[A-Za-z0-9._-]{1,128}$/, 'expected a file name (letters, digits, ".", "_", "-"; no "/")'),
  description: z.string({ error: 'expected a string' }).optional(),
  aliases: z.array(CallableIdSchema, { error: 'expected an array of tool ids such as ["csb"]' }).default([]),
  min_flow_version: z
    .union([SemverSchema, z.object({ hard: SemverSchema.optional(), soft: SemverSchema.optional() })], {
      error: 'expected a version such as "0.1.0" or { hard = "...", soft = "..." }',
    })
    .optional(),
  exec: z.object(
    {
      run: ArgvSchema,
      /**
       * Builds the program once per content of the sources; Flow then runs the result directly.
       * The build writes to $FLOW_BUILD_OUT (also substituted for "{out}"), or to `output`.
       */
      build: ArgvSchema.optional(),
      output: InsidePathSchema.optional(),
      /** Files and directories whose content keys the build cache; default: the whole root. */
      sources: z.array(InsidePathSchema).optional(),
      env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected environment variable names'), z.string(), { error: 'expected a table of strings' }).default({}),
    },
    { error: 'expected an [exec] table with run = ["program", "args"...]' },
  ),
  /** Hints for remote packaging (f catalog publish). */
  install: z
    .object({
      version: z.string().min(1).optional(),
      include: z.array(InsidePathSchema).optional(),
      exclude: z.array(z.string().min(1)).optional(),
    })
    .optional(),
});
export type Manifest = z.infer<typeof ManifestSchema>;
export type ManifestInput = z.input<typeof ManifestSchema>;

export interface LoadedManifest {
  manifest: Manifest;
  path: string;
  /** sha256 of the file's bytes: what was validated, recorded in the install's events. */
  sha256: string;
}

function describe(v: unknown): string {
  if (v === undefined) return 'it is missing';
  if (v === null) return 'got null';
  if (Array.isArray(v)) return `got an array`;
  if (typeof v === 'object') return 'got a table';
  return `got ${typeof v} ${JSON.stringify(v)}`;
}

function at(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur = root;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

/** Validates parsed manifest data; a ManifestError names `file`, each field and what it expected. */
export function validateManifest(data: unknown, file: string): Manifest {
  const parsed = ManifestSchema.safeParse(data);
  if (parsed.success) {
    const m = parsed.data;
    if (m.aliases.includes(m.id)) throw new ManifestError(file, [{ field: 'aliases', expected: 'must not repeat the id' }]);
    if (m.exec.output && !m.exec.build) throw new ManifestError(file, [{ field: 'exec.output', expected: 'only makes sense with exec.build' }]);
    checkMinFlowVersion(m, file);
    return m;
  }
  throw new ManifestError(
    file,
    parsed.error.issues.map((i) => {
      const field = i.path.map(String).join('.');
      const got = describe(at(data, i.path));
      return { field, expected: i.code === 'invalid_type' || i.code === 'invalid_union' || i.code === 'invalid_value' ? `${i.message} (${got})` : i.message };
    }),
  );
}

export function parseManifestText(text: string, file: string): Manifest {
  let data: unknown;
  try {
    data = parseToml(text);
  } catch (err) {
    const msg = err instanceof TomlError ? err.message.split('\n')[0]! : String(err);
    throw new ManifestError(file, [{ field: '', expected: `not valid TOML: ${msg}` }]);
  }
  return validateManifest(data, file);
}

export function loadManifest(file: string): LoadedManifest {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ManifestError(file, [{ field: '', expected: code === 'ENOENT' ? `no ${MANIFEST_FILE} there` : `cannot be read (${code ?? String(err)})` }]);
  }
  const manifest = parseManifestText(bytes.toString('utf8'), file);
  return { manifest, path: file, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** The manifest as TOML again (a remote install keeps a copy of the resolved manifest). */
export function manifestToToml(m: Manifest): string {
  const clean = JSON.parse(JSON.stringify(m)) as Record<string, unknown>;
  return stringifyToml(clean) + '\n';
}

function cmp(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

/** Soft minimums only warn; hard ones refuse (mise's min_version semantics). */
function checkMinFlowVersion(m: Manifest, file: string): void {
  const v = m.min_flow_version;
  if (!v) return;
  const hard = typeof v === 'string' ? v : v.hard;
  if (hard && cmp(FLOW_VERSION, hard) < 0) {
    throw new ManifestError(file, [{ field: 'min_flow_version', expected: `needs Flow ${hard} or newer (this is ${FLOW_VERSION})` }]);
  }
  if (typeof v === 'object' && v.soft && cmp(FLOW_VERSION, v.soft) < 0) {
    process.stderr.write(`f: warning: ${file} asks for Flow ${v.soft} or newer (this is ${FLOW_VERSION})\n`);
  }
}
