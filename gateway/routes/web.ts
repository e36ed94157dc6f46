import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import { existsSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GatewayContext } from '../context.js';
import type { RouteResponses } from '../openapi.js';

/**
 * The package root, found by walking up to package.json: the same answer whether this file runs
 * from source (gateway/routes/web.ts under vitest) or from the build (dist/gateway/routes/web.js).
 * The dashboard files are plain ES modules that tsc never touches, so they are served from the
 * checkout's gateway/web/ rather than copied into dist/.
 */
function packageRoot(from: string): string {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'gateway', 'web'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`the dashboard files (gateway/web) were not found above ${from}`);
    dir = parent;
  }
}

const STATIC_RESPONSES: RouteResponses = {
  200: 'the file',
  206: 'the part of it the Range asked for',
  304: 'not modified since the ETag the client has',
  412: 'an If-Match or If-Unmodified-Since precondition failed',
  416: 'the Range is outside the file',
};

/** The media type each file is served with (as @fastify/send names it), for the route table. */
const MEDIA: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.json': 'application/json' };

function mediaOf(url: string): string {
  return url.endsWith('/') ? 'text/html' : (MEDIA[extname(url)] ?? 'application/octet-stream');
}

export const WEB_DIR = join(packageRoot(dirname(fileURLToPath(import.meta.url))), 'gateway', 'web');

/**
 * The dashboard at `/`. `wildcard: false` registers one GET route per file found at start, so
 * there is no catch-all: unknown paths (and anything with "..") fall through to the JSON 404,
 * and the dashboard cannot shadow an API route. The page shell and its scripts are public (the
 * login screen must load without a token); the data all comes from /api, which auth guards.
 */
export async function webRoutes(app: FastifyInstance, _ctx: GatewayContext): Promise<void> {
  // Every route of this scope is a file of the shell: public (the guard denies anything unmarked),
  // answered as @fastify/send answers a file request.
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, public: true, responses: STATIC_RESPONSES, produces: mediaOf(route.url) };
  });
  await app.register(fastifyStatic, {
    root: WEB_DIR,
    prefix: '/',
    wildcard: false,
    index: ['index.html'],
    // Revalidate every time (ETag): a dashboard edited in place is never served stale.
    cacheControl: true,
    maxAge: 0,
    serveDotFiles: false,
  });
}
