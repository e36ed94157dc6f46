import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import type { z } from 'zod';
import { locateKey } from './locate.js';
import { FlowFileSchema, type FlowFile } from './schema.js';

export const FLOW_FILE = 'flow.toml';

/** A flow.toml that cannot be used: every problem, each with its line and field. */
export class FlowFileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: { line: number | null; column?: number; field: string; message: string }[],
  ) {
    super(problems.map((p) => `${file}${p.line ? `:${p.line}${p.column ? `:${p.column}` : ''}` : ''}: ${p.field ? `${p.field}: ` : ''}${p.message}`).join('\n'));
  }
}

export interface LoadedFlowFile {
  /** Absolute path of the file. */
  path: string;
  /** Its directory: relative paths in it are relative to this. */
  dir: string;
  spec: FlowFile;
}

function got(v: unknown): string {
  if (v === undefined) return 'it is missing';
  if (Array.isArray(v)) return 'got an array';
  if (v !== null && typeof v === 'object') return 'got a table';
  return `got ${JSON.stringify(v)}`;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur = root;
  for (const k of path) cur = cur !== null && typeof cur === 'object' ? (cur as Record<PropertyKey, unknown>)[k] : undefined;
  return cur;
}

function describeIssue(issue: z.core.$ZodIssue, data: unknown, text: string): FlowFileError['problems'][number][] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const path = [...issue.path, key];
      return { line: locateKey(text, path), field: path.map(String).join('.'), message: `unknown field (allowed here: ${allowedKeys(issue.path).join(', ') || 'none'})` };
    });
  }
  if (issue.code === 'invalid_key') {
    return [{ line: locateKey(text, issue.path), field: issue.path.map(String).join('.'), message: issue.issues.map((i) => i.message).join('; ') }];
  }
  const message = issue.code === 'invalid_type' || issue.code === 'invalid_value' ? `${issue.message} (${got(valueAt(data, issue.path))})` : issue.message;
  return [{ line: locateKey(text, issue.path), field: issue.path.map(String).join('.'), message }];
}

/** The keys a strict table at `path` takes, to suggest what a misspelt key should have been. */
function allowedKeys(path: readonly PropertyKey[]): string[] {
  const shapes: Record<string, readonly string[]> = {
    '': Object.keys(FlowFileSchema.shape),
    backends: Object.keys(FlowFileSchema.shape.backends.unwrap().valueType.shape),
    'backends.restart': Object.keys(FlowFileSchema.shape.backends.unwrap().valueType.shape.restart.unwrap().shape),
    instances: Object.keys(FlowFileSchema.shape.instances.unwrap().valueType.shape),
    tunnels: Object.keys(FlowFileSchema.shape.tunnels.unwrap().valueType.shape),
    tools: Object.keys(FlowFileSchema.shape.tools.unwrap().valueType.shape),
  };
  const kind = path.filter((_, i) => i !== 1).map(String).join('.');
  return [...(shapes[kind] ?? [])];
}

/** Parses and validates flow.toml text; a FlowFileError names the line and field of each problem. */
export function parseFlowFile(text: string, file: string): FlowFile {
  let data: unknown;
  try {
    data = parseToml(text);
  } catch (err) {
    if (err instanceof TomlError) throw new FlowFileError(file, [{ line: err.line, column: err.column, field: '', message: `not valid TOML: ${err.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '')}` }]);
    throw err;
  }
  const parsed = FlowFileSchema.safeParse(data);
  if (!parsed.success) throw new FlowFileError(file, parsed.error.issues.flatMap((i) => describeIssue(i, data, text)));
  return parsed.data;
}

export function loadFlowFile(file: string): LoadedFlowFile {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EISDIR' ? `is a directory (give the ${FLOW_FILE} inside it)` : `cannot be read (${code ?? String(err)})`;
    throw new FlowFileError(path, [{ line: null, field: '', message: why }]);
  }
  return { path, dir: dirname(path), spec: parseFlowFile(text, path) };
}
