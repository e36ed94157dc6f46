import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseToolInstallStreamId, ToolIdSchema } from '../../actors/tool-install.js';
import { RetirementSchema, type ActorListing, type ReadModel } from '../../services/store/read-model.js';
import { listTools, resolveTool } from '../../services/tool-install/resolver.js';
import { toolPaths } from '../../services/tool-install/paths.js';

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

/**
 * GET /api/installs: every tool `f cli` can run here (links, remote installs, dev roots) with
 * conflicts and broken manifests, read from $FLOW_HOME/cli as `f cli list` reads it, and the
 * host those files are on; `installs` is every host's install history from the log (installs
 * are per host: two hosts that install the same tool are two entries).
 * GET /api/installs/:id: what `f cli <id>` would run.
 */
export async function installRoutes(app: FastifyInstance, opts: { home: string; host?: string; readModel?: ReadModel }): Promise<void> {
  const paths = toolPaths(opts.home);
  app.get('/api/installs', async () => ({
    ...listTools(paths),
    host: opts.host ?? null,
    installs: (opts.readModel?.listActors('tool-install') ?? []).map(installActor),
  }));
  app.get('/api/installs/:id', async (req, reply) => {
    const parsed = IdParamsSchema.safeParse(req.params);
    if (!parsed.success) return reply.code(400).send({ error: { code: 'invalid', message: parsed.error.issues.map((i) => i.message).join('; ') } });
    try {
      const r = resolveTool(paths, parsed.data.id);
      return {
        id: r.id,
        kind: r.kind,
        root: r.root,
        manifestPath: r.manifestPath,
        installId: r.installId,
        version: r.version,
        via: r.via,
        // env values may be secrets: keys only, as f cli doctor shows them
        manifest: { ...r.manifest, exec: { ...r.manifest.exec, env: Object.keys(r.manifest.exec.env) } },
        shadows: r.shadows.map((c) => ({ kind: c.kind, root: c.root, installId: c.install?.install_id ?? null, error: c.error })),
      };
    } catch (err) {
      return reply.code(404).send({ error: { code: 'not_found', message: (err as Error).message } });
    }
  });
}
