import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { RegistrationRef } from '../../actors/tool-install/index.js';
import { ToolError } from './errors.js';
import { installsOf, readIndex, writeIndex } from './index-file.js';
import { installDir, linkRecordPath, type ToolPaths } from './paths.js';
import { refreshShims, shimArgvOf } from './prepare-run.js';
import { bringInLine, type ToolInstallEntry } from './entry.js';
import { resolveTool } from './resolver.js';
import { forgetPlans } from './run-cache-write.js';
import { removeShims } from './shims.js';
import { describeBadToolId, isToolId } from './tool-id.js';

export interface UninstallOutcome {
  id: string;
  removed: RegistrationRef[];
  shimsRemoved: string[];
  /** What `f cli <id>` runs now, if anything still provides the id. */
  nowActive: string | null;
}

/**
 * Removes a tool's registrations: all of them, or only `only` ("link" or an install id). A link
 * loses its record (the source is the user's and stays); a remote install loses its directory.
 * Shims follow: removed when nothing provides the id any more, else pointed at what runs now.
 * Called under the tool lock (infra/tool-install.ts).
 */
export async function uninstallTool(paths: ToolPaths, id: string, entry: ToolInstallEntry, only: string | null = null): Promise<UninstallOutcome> {
  if (!isToolId(id)) throw new ToolError(describeBadToolId(id));
  const index = readIndex(paths);
  const alias = index.aliases[id];
  if (alias && !existsSync(linkRecordPath(paths, id)) && installsOf(index, id).length === 0) {
    throw new ToolError(`${id} is an alias of ${alias}; uninstall ${alias}`);
  }
  const targets: RegistrationRef[] = [];
  if (existsSync(linkRecordPath(paths, id)) && (only === null || only === 'link')) targets.push({ kind: 'link', installId: null });
  for (const i of installsOf(index, id)) if (only === null || only === i.install_id) targets.push({ kind: 'remote', installId: i.install_id });
  if (targets.length === 0) {
    throw new ToolError(only ? `${id} has no registration "${only}" (f cli list shows them)` : `${id} is not installed (a tool found in a dev root is not installed; it goes away with its directory)`);
  }
  await entry.submit({ type: 'tool.uninstall', id, installId: only && only !== 'link' ? only : null });
  // The stream says what the files say before they change (a log replaced, a record removed by hand).
  bringInLine(entry, paths, id);
  for (const t of targets) {
    if (t.kind === 'link') rmSync(linkRecordPath(paths, id), { force: true });
    else {
      rmSync(installDir(paths, t.installId!), { recursive: true, force: true });
      delete index.installs[t.installId!];
    }
    if (index.active[id] === (t.installId ?? 'link')) delete index.active[id];
  }
  const left = [...(existsSync(linkRecordPath(paths, id)) ? ['link'] : []), ...installsOf(index, id).map((i) => i.install_id)];
  if (left.length > 0 && !index.active[id]) index.active[id] = left[0]!;
  const aliases = Object.entries(index.aliases).filter(([, target]) => target === id).map(([a]) => a);
  if (left.length === 0) for (const a of aliases) delete index.aliases[a];
  writeIndex(paths, index);
  forgetPlans(paths);
  let shimsRemoved: string[] = [];
  let nowActive: string | null = null;
  if (left.length === 0) {
    shimsRemoved = removeShims(paths, [id, ...aliases]);
    rmSync(join(paths.buildCache, id), { recursive: true, force: true });
  } else {
    const r = resolveTool(paths, id);
    refreshShims(paths, r, await shimArgvOf(paths, r));
    nowActive = r.kind === 'remote' ? `remote ${r.installId}` : `${r.kind} ${r.root}`;
  }
  entry.observe(id, 'UNINSTALLED', { removed: targets, shimsRemoved });
  return { id, removed: targets, shimsRemoved, nowActive };
}
