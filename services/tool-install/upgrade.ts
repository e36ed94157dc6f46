import { ToolError } from './errors.js';
import { catalogBase, fetchCatalogIndex } from './catalog.js';
import { readIndex } from './index-file.js';
import { installLink, installRemote, type InstallOutcome } from './install.js';
import type { ToolPaths } from './paths.js';
import type { ToolInstallEntry } from './entry.js';
import { resolveTool } from './resolver.js';

export type UpgradeOutcome = InstallOutcome | { id: string; status: 'up-to-date'; version: string | null; notes: string[] };

/**
 * A remote install moves to the newest record of its id in its catalog (a new install id; the
 * old directory goes once the new one is in place). A link is re-read from its source: manifest
 * revalidated, aliases and shims rewritten, build redone if the sources changed.
 */
export async function upgradeTool(paths: ToolPaths, name: string, entry: ToolInstallEntry, opts: { catalog?: string; env?: NodeJS.ProcessEnv; tty?: boolean } = {}): Promise<UpgradeOutcome> {
  const env = opts.env ?? process.env;
  const r = resolveTool(paths, name, env);
  if (r.kind === 'dev') throw new ToolError(`${r.id} comes from a dev root (${r.root}); there is nothing to upgrade (f install ${r.root} to install it)`);
  if (r.kind === 'link') return installLink(paths, r.root, entry, { upgrade: { replaces: [{ kind: 'link', installId: null }] }, env, force: true });
  const current = readIndex(paths).installs[r.installId!];
  if (!current) throw new ToolError(`${r.id}: ${r.installId} is missing from the index`);
  const base = catalogBase(env, opts.catalog ?? env.FLOW_CATALOG_URL ?? current.catalog);
  const newest = (await fetchCatalogIndex(base))
    .filter((x) => x.id === r.id)
    .sort((a, b) => b.published_at.localeCompare(a.published_at))[0];
  if (!newest || newest.install_id === current.install_id || newest.published_at <= current.published_at) {
    return { id: r.id, status: 'up-to-date', version: current.version, notes: [`${r.id} ${current.version} (${current.install_id}) is the newest in ${base}`] };
  }
  return installRemote(paths, newest.install_id, entry, { catalog: base, env, tty: opts.tty, upgrade: { replaces: [{ kind: 'remote', installId: current.install_id }] } });
}
