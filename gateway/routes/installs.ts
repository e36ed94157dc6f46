import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ToolIdSchema } from '../../actors/tool-install.js';
import { listTools, resolveTool } from '../../services/tool-install/resolver.js';
import { toolPaths } from '../../services/tool-install/paths.js';

const IdParamsSchema = z.object({ id: ToolIdSchema });

/**
 * GET /api/installs: every tool `f cli` can run (links, remote installs, dev roots) with
 * conflicts and broken manifests, read from $FLOW_HOME/cli as `f cli list` reads it.
 * GET /api/installs/:id: what `f cli <id>` would run.
 */
export async function installRoutes(app: FastifyInstance, opts: { home: string }): Promise<void> {
  const paths = toolPaths(opts.home);
  app.get('/api/installs', async () => listTools(paths));
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
