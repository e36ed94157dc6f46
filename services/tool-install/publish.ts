import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve, isAbsolute } from 'node:path';
import { create } from 'tar';
import { ulid } from 'ulid';
import { CatalogIndexSchema, type CatalogRecordInput } from './catalog.js';
import { ToolError } from './errors.js';
import { writeFileAtomic } from './fs-atomic.js';
import { loadManifest, MANIFEST_FILE } from './manifest.js';

/** Never packed: VCS data, dependencies and build products (the tool rebuilds them). */
const ALWAYS_EXCLUDED = new Set(['.git', 'node_modules', 'target', '.venv', '__pycache__', '.DS_Store']);

export interface PublishOptions {
  to: string;
  version?: string;
  /** For tests and reproducible catalogs; default: now. */
  publishedAt?: string;
}

export interface Published {
  record: CatalogRecordInput;
  recordPath: string;
  bundlePath: string;
}

function readCatalogIndex(file: string): CatalogRecordInput[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const parsed = CatalogIndexSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new ToolError(`${file} is not a catalog index; refusing to overwrite it`);
  return JSON.parse(text).records as CatalogRecordInput[];
}

/**
 * `f catalog publish <tool-dir> --to <catalog-dir>`: packs the tool, mints a `cli_<ulid>`, and
 * writes bundles/<file>.tgz, <install_id>.json and index.json, all as static files, so any file
 * server (or Flow's own /api/catalog/) can serve the catalog. A link that leaves the tool
 * directory is refused here rather than at every install.
 */
export async function publishTool(toolDir: string, opts: PublishOptions): Promise<Published> {
  const root = resolve(toolDir);
  const { manifest } = loadManifest(join(root, MANIFEST_FILE));
  const version = opts.version ?? manifest.install?.version ?? '0.1.0';
  const excluded = new Set([...ALWAYS_EXCLUDED, ...(manifest.install?.exclude ?? [])]);
  const entries = (manifest.install?.include ?? readdirSync(root).filter((n) => !excluded.has(n))).sort();
  if (!entries.includes(MANIFEST_FILE)) entries.unshift(MANIFEST_FILE);
  const catalog = resolve(opts.to);
  const installId = `cli_${ulid().toLowerCase()}`;
  const bundleName = `${manifest.id}-${version}-${installId}.tgz`;
  const bundlePath = join(catalog, 'bundles', bundleName);
  mkdirSync(dirname(bundlePath), { recursive: true });
  const tmp = `${bundlePath}.tmp`;
  await create(
    {
      gzip: true,
      portable: true,
      cwd: root,
      file: tmp,
      filter: (p) => {
        const name = p.split('/').filter((s) => s && s !== '.').at(-1) ?? '';
        if (excluded.has(name)) return false;
        const abs = join(root, p);
        const st = lstatSync(abs);
        if (st.isSymbolicLink()) {
          const target = resolve(dirname(abs), readlinkSync(abs));
          const rel = relative(root, target);
          if (rel.startsWith('..') || isAbsolute(rel)) throw new ToolError(`${abs} links outside the tool (${target}); refusing to publish it`);
        }
        return true;
      },
    },
    entries,
  ).catch((err: unknown) => {
    rmSync(tmp, { force: true });
    throw err;
  });
  renameSync(tmp, bundlePath);
  const sha256 = createHash('sha256').update(readFileSync(bundlePath)).digest('hex');
  const record: CatalogRecordInput = {
    install_id: installId,
    id: manifest.id,
    version,
    published_at: opts.publishedAt ?? new Date().toISOString(),
    source: { kind: 'tarball', url: `bundles/${bundleName}`, sha256 },
    manifest: JSON.parse(JSON.stringify(manifest)) as Record<string, unknown>,
    ...(manifest.description ? { description: manifest.description } : {}),
  };
  const recordPath = join(catalog, `${installId}.json`);
  writeFileAtomic(recordPath, JSON.stringify(record, null, 2) + '\n');
  const indexPath = join(catalog, 'index.json');
  const records = readCatalogIndex(indexPath).filter((r) => r.install_id !== installId);
  writeFileAtomic(indexPath, JSON.stringify({ version: 1, records: [...records, record] }, null, 2) + '\n');
  return { record, recordPath, bundlePath };
}
