import { z } from 'zod';
import { InstallIdSchema, ToolIdSchema } from '../../actors/tool-install/index.js';
import { openSource, readLimited } from './download.js';
import { ToolError } from './errors.js';
import { catalogLimits } from './limits.js';
import { validateManifest, type Manifest } from './manifest.js';
import { sourcePolicy, type SourcePolicy } from './source-policy.js';

/** `cli_<ulid>` or `cli:<ulid>` as a user types it (seed 001: a prefix, so package names stay free). */
const INSTALL_ARG = /^cli[_:]([0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26})$/;

export function parseInstallIdArg(arg: string): string | null {
  const m = INSTALL_ARG.exec(arg);
  return m ? `cli_${m[1]!.toLowerCase()}` : null;
}

/** One catalog record, seed 001's remote record. `manifest` is flow-tool.toml as JSON. */
export const CatalogRecordSchema = z.object({
  install_id: z.string().transform((s, ctx) => {
    const id = parseInstallIdArg(s);
    if (!id) ctx.addIssue({ code: 'custom', message: 'expected cli_<ulid>' });
    return id ?? s;
  }).pipe(InstallIdSchema),
  id: ToolIdSchema,
  version: z.string().min(1),
  published_at: z.string().min(1),
  source: z.object({
    kind: z.literal('tarball'),
    url: z.string().min(1),
    sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'expected a sha256 as 64 hex digits').transform((s) => s.toLowerCase()),
  }),
  manifest: z.record(z.string(), z.unknown()),
  description: z.string().optional(),
});
export type CatalogRecordInput = z.input<typeof CatalogRecordSchema>;
export type CatalogRecord = Omit<z.infer<typeof CatalogRecordSchema>, 'manifest'> & { manifest: Manifest };

export const CatalogIndexSchema = z.object({ version: z.literal(1), records: z.array(CatalogRecordSchema) });

/** FLOW_CATALOG_URL: the base under which index.json and <install_id>.json are found. */
export function catalogBase(env: NodeJS.ProcessEnv = process.env, override?: string): string {
  const raw = override ?? env.FLOW_CATALOG_URL;
  if (!raw) throw new ToolError('no remote catalog configured: set FLOW_CATALOG_URL to its base (http(s)://host/path/ or file:///dir/)', 'catalog');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ToolError(`FLOW_CATALOG_URL "${raw}" is not a URL (expected http(s)://... or file://...)`, 'catalog');
  }
  if (!['http:', 'https:', 'file:'].includes(url.protocol)) throw new ToolError(`FLOW_CATALOG_URL must be http(s):// or file://, not ${url.protocol}//`, 'catalog');
  return url.href.endsWith('/') ? url.href : url.href + '/';
}

/**
 * How catalog documents are fetched: under the catalog's source policy (source-policy.ts), with
 * the idle timeout and a size cap, so a hostile or broken server can neither hang `f install`
 * nor fill its memory.
 */
export interface CatalogFetch {
  policy: SourcePolicy;
  idleMs: number;
  maxBytes: number;
}

export function catalogFetch(base: string, env: NodeJS.ProcessEnv = process.env): CatalogFetch {
  const limits = catalogLimits(env);
  return { policy: sourcePolicy(base, limits.allowLocalBundles), idleMs: limits.idleMs, maxBytes: limits.maxCatalogBytes };
}

/** A URL in a record, resolved against the catalog; only http(s), and file:// from a file:// catalog. */
export function resolveSourceUrl(base: string, url: string): URL {
  let u: URL;
  try {
    u = new URL(url, base);
  } catch {
    throw new ToolError(`catalog record has a source url "${url}" that is not a URL`, 'catalog');
  }
  const baseProto = new URL(base).protocol;
  if (u.protocol === 'file:' && baseProto !== 'file:') throw new ToolError(`catalog at ${base} points at a local file (${u.href}); refusing`, 'catalog');
  if (!['http:', 'https:', 'file:'].includes(u.protocol)) throw new ToolError(`catalog record source ${u.href}: only http(s):// and file:// downloads are supported`, 'catalog');
  return u;
}

async function fetchCatalogText(url: URL, what: string, f: CatalogFetch): Promise<string | null> {
  let opened;
  try {
    opened = await openSource(url, { policy: f.policy, idleMs: f.idleMs, step: 'catalog', what: `the catalog's ${what} at` }, 'application/json');
  } catch (err) {
    const network = (err as { network?: string }).network;
    if (network) throw new ToolError(`the catalog at ${url.origin} is not reachable (${network}) while fetching its ${what}; check FLOW_CATALOG_URL`, 'catalog');
    throw err;
  }
  if (opened.status === 404) {
    opened.body.destroy();
    return null;
  }
  if (opened.status < 200 || opened.status >= 300) {
    opened.body.destroy();
    throw new ToolError(`the catalog answered ${opened.status} ${opened.statusText} for ${url.href}`, 'catalog');
  }
  const text = await readLimited(opened, f.maxBytes, 'catalog');
  if (opened.contentType.includes('text/html') || /^\s*</.test(text)) {
    throw new ToolError(`the catalog returned an HTML page for ${url.href}, not JSON: is FLOW_CATALOG_URL the catalog's base (the folder holding index.json)?`, 'catalog');
  }
  return text;
}

function parseJson(text: string, url: URL): unknown {
  if (/^\s*</.test(text)) throw new ToolError(`${url.href} is an HTML page, not a catalog JSON document: is FLOW_CATALOG_URL the catalog's base?`, 'catalog');
  try {
    return JSON.parse(text);
  } catch {
    throw new ToolError(`${url.href} is not valid JSON`, 'catalog');
  }
}

function toRecord(data: unknown, where: string): CatalogRecord {
  const parsed = CatalogRecordSchema.safeParse(data);
  if (!parsed.success) throw new ToolError(`${where} is not a valid catalog record: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, 'catalog');
  const manifest = validateManifest(parsed.data.manifest, `${where} (manifest)`);
  if (manifest.id !== parsed.data.id) throw new ToolError(`${where}: record id "${parsed.data.id}" differs from its manifest's id "${manifest.id}"`, 'catalog');
  return { ...parsed.data, manifest };
}

export async function fetchCatalogIndex(base: string, f: CatalogFetch = catalogFetch(base)): Promise<CatalogRecord[]> {
  const url = new URL('index.json', base);
  const text = await fetchCatalogText(url, 'index', f);
  if (text === null) throw new ToolError(`the catalog at ${base} has no index.json`, 'catalog');
  const data = parseJson(text, url);
  const parsed = z.object({ version: z.literal(1), records: z.array(z.unknown()) }).safeParse(data);
  if (!parsed.success) throw new ToolError(`${url.href} is not a catalog index (expected {"version": 1, "records": [...]})`, 'catalog');
  return parsed.data.records.map((r, i) => toRecord(r, `${url.href} records[${i}]`));
}

/** The record for one install id: <install_id>.json, else its entry in index.json. */
export async function fetchCatalogRecord(base: string, installId: string, f: CatalogFetch = catalogFetch(base)): Promise<CatalogRecord> {
  const url = new URL(`${installId}.json`, base);
  const text = await fetchCatalogText(url, `record of ${installId}`, f);
  let record: CatalogRecord | undefined;
  if (text !== null) record = toRecord(parseJson(text, url), url.href);
  else record = (await fetchCatalogIndex(base, f)).find((r) => r.install_id === installId);
  if (!record) throw new ToolError(`${installId} is not in the catalog at ${base}`, 'catalog');
  if (record.install_id !== installId) throw new ToolError(`${url.href} describes ${record.install_id}, not ${installId}`, 'catalog');
  return record;
}
