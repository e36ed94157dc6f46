import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseToolInstallStreamId, ToolIdSchema } from '../../actors/tool-install/index.js';
import { RetirementSchema, type ActorListing, type ReadModel } from '../../services/store/read-model.js';
import { ManifestSchema } from '../../services/tool-install/manifest.js';
import { listTools, resolveTool, type ListedTool, type ToolListing } from '../../services/tool-install/resolver.js';
import { toolPaths } from '../../services/tool-install/paths.js';
import { ApiError } from '../errors.js';
import { zodRoute } from '../validation.js';

const IdParamsSchema = z.object({ id: ToolIdSchema });

/** One host's install of a tool, as its log tells it (every host's, in distributed mode). */
export const InstallActorSchema = z.object({
  id: z.string(),
  host: z.string(),
  status: z.string(),
  streamId: z.string(),
  version: z.number().int(),
  updatedAt: z.string(),
  epoch: z.string().nullable(),
  retired: RetirementSchema.nullable(),
});
export type InstallActor = z.infer<typeof InstallActorSchema>;

function installActor(row: ActorListing): InstallActor {
  const named = parseToolInstallStreamId(row.streamId);
  // A stream kept apart by the replica (an archive name) still says which tool it was about.
  const id = named?.id ?? row.streamId.slice(row.streamId.indexOf(':') + 1).replace(/^Archived-\d+-/, '').replace(/_.*$/, '');
  return { id, host: named?.host ?? row.host, status: row.status, streamId: row.streamId, version: row.version, updatedAt: row.updatedAt, epoch: row.epoch ?? null, retired: row.retired ?? null };
}

/** One tool `f cli` can run, as `f cli list` shows it. */
export const ListedToolSchema = z.object({
  id: z.string(),
  kind: z.enum(['link', 'remote', 'dev']),
  root: z.string(),
  manifestPath: z.string(),
  installId: z.string().nullable(),
  version: z.string().nullable(),
  language: z.string().nullable(),
  description: z.string().nullable(),
  aliases: z.array(z.string()),
  active: z.boolean(),
  shadowedBy: z.string().nullable(),
  error: z.string().nullable(),
}) satisfies z.ZodType<ListedTool>;

export const InstallListSchema = z.object({
  tools: z.array(ListedToolSchema),
  broken: z.array(z.object({ path: z.string(), error: z.string() })),
  conflicts: z.array(z.object({ id: z.string(), active: z.string(), others: z.array(z.string()) })),
  /** The host whose $FLOW_HOME/cli this lists (null when the gateway does not know it). */
  host: z.string().nullable(),
  installs: z.array(InstallActorSchema),
}) satisfies z.ZodType<ToolListing>;

/** What `f cli <id>` would run; env values may be secrets, so only their names are shown (as f cli doctor shows them). */
export const ResolvedToolSchema = z.object({
  id: z.string(),
  kind: ListedToolSchema.shape.kind,
  root: z.string(),
  manifestPath: z.string(),
  installId: z.string().nullable(),
  version: z.string().nullable(),
  via: z.string().nullable(),
  manifest: ManifestSchema.extend({ exec: ManifestSchema.shape.exec.extend({ env: z.array(z.string()) }) }),
  shadows: z.array(z.object({ kind: ListedToolSchema.shape.kind, root: z.string(), installId: z.string().nullable(), error: z.string().nullable() })),
});

/**
 * GET /api/installs: every tool `f cli` can run here (links, remote installs, dev roots) with
 * conflicts and broken manifests, read from $FLOW_HOME/cli as `f cli list` reads it, and the
 * host those files are on; `installs` is every host's install history from the log (installs
 * are per host: two hosts that install the same tool are two entries).
 * GET /api/installs/:id: what `f cli <id>` would run.
 */
export async function installRoutes(app: FastifyInstance, opts: { home: string; host?: string; readModel?: ReadModel }): Promise<void> {
  const paths = toolPaths(opts.home);
  app.route({
    method: 'GET',
    url: '/api/installs',
    ...zodRoute({ response: InstallListSchema }, () => ({
      ...listTools(paths),
      host: opts.host ?? null,
      installs: (opts.readModel?.listActors('tool-install') ?? []).map(installActor),
    })),
  });
  app.route({
    method: 'GET',
    url: '/api/installs/:id',
    ...zodRoute({ params: IdParamsSchema, response: ResolvedToolSchema }, ({ params }) => {
      let r: ReturnType<typeof resolveTool>;
      try {
        r = resolveTool(paths, params.id);
      } catch (err) {
        throw ApiError.notFound((err as Error).message);
      }
      return {
        id: r.id,
        kind: r.kind,
        root: r.root,
        manifestPath: r.manifestPath,
        installId: r.installId,
        version: r.version,
        via: r.via,
        manifest: { ...r.manifest, exec: { ...r.manifest.exec, env: Object.keys(r.manifest.exec.env) } },
        shadows: r.shadows.map((c) => ({ kind: c.kind, root: c.root, installId: c.install?.install_id ?? null, error: c.error })),
      };
    }),
  });
}
