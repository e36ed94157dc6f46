import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { GatewayContext, RoutePlugin } from '../context.js';
import { ApiError } from '../errors.js';
import { responds } from '../openapi.js';
import { zodRoute } from '../validation.js';
import { DirsError, existingDirs, listDirs, resolveRoots } from '../../services/fs/dirs.js';

export const DirListingSchema = z.object({
  /** The directory listed (realpath), or null when the roots themselves are listed. */
  path: z.string().nullable(),
  parent: z.string().nullable(),
  entries: z.array(z.object({ name: z.string(), path: z.string(), hidden: z.boolean() })),
  truncated: z.boolean(),
  /** Where browsing may go: the user's home and FLOW_DIR_ROOTS, resolved. */
  roots: z.array(z.string()),
  /** Working directories of OpenCode instances, newest first, that still exist. */
  recent: z.array(z.string()),
});
export type DirListingView = z.infer<typeof DirListingSchema>;

const DirsQuerySchema = z.object({
  path: z.string().max(4096, 'path is longer than 4096 characters').optional(),
});

const RECENT_MAX = 8;

/** Directories instances were created in, newest first (the opencode-instance CREATED events). */
function recentDirectories(ctx: GatewayContext): string[] {
  const dirs: string[] = [];
  let from = 0;
  for (;;) {
    const page = ctx.deps.log.readAll(from, 1000, { streamType: 'opencode-instance' });
    for (const e of page) if (e.type === 'CREATED' && typeof e.data.directory === 'string') dirs.push(e.data.directory);
    if (page.length < 1000) break;
    from = page.at(-1)!.position;
  }
  return dirs.reverse();
}

const STATUS: Record<DirsError['kind'], number> = { invalid: 400, forbidden: 403, not_found: 404 };

/**
 * `GET /api/fs/dirs?path=`: the subdirectories of one directory, for the new-instance dialog's
 * picker. Authenticated like every /api route; confined to the roots (see services/fs/dirs.ts).
 * Without `path` it lists the roots. Recent working directories come first in `recent`.
 */
export function fsRoutePlugin(opts: { roots: () => readonly string[] }): RoutePlugin {
  return (app: FastifyInstance, ctx: GatewayContext) => {
    app.route({
      method: 'GET',
      url: '/api/fs/dirs',
      ...responds(
        { 400: 'the path is not absolute, or has ".." or encoded separators in it', 403: 'the path (resolved) is outside the home directory and FLOW_DIR_ROOTS, or cannot be read', 404: 'there is no directory at that path' },
        zodRoute({ query: DirsQuerySchema, response: DirListingSchema }, async ({ query }): Promise<DirListingView> => {
          const roots = await resolveRoots(opts.roots());
          const recent = (await existingDirs(recentDirectories(ctx), roots)).slice(0, RECENT_MAX);
          if (query.path === undefined || query.path === '') {
            return { path: null, parent: null, entries: roots.map((r) => ({ name: r, path: r, hidden: false })), truncated: false, roots, recent };
          }
          try {
            return { ...(await listDirs(query.path, roots)), roots, recent };
          } catch (err) {
            if (err instanceof DirsError) throw new ApiError(STATUS[err.kind], err.kind, err.message);
            throw err;
          }
        }),
      ),
    });
  };
}
