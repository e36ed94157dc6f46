import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
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
  vendorRoutes(app);
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

/** The highlight.js languages the chat highlights (each file is a self-contained ES module). */
const HLJS_LANGUAGES = ['bash', 'css', 'diff', 'go', 'ini', 'javascript', 'json', 'markdown', 'python', 'rust', 'shell', 'sql', 'typescript', 'xml', 'yaml'];

/**
 * The chat's third-party code, served from node_modules (no CDN: Flow runs with no internet and
 * a page should not load code from elsewhere): marked and DOMPurify as their ES builds,
 * highlight.js's core (a CommonJS file, wrapped as a module here) with a few languages and a
 * dark theme. Read once at start; they change only with an npm install.
 */
function vendorRoutes(app: FastifyInstance): void {
  const require = createRequire(import.meta.url);
  // Not `${name}/package.json`: a package's "exports" may not list it (DOMPurify's does not).
  const pkgDir = (name: string) => {
    for (let dir = dirname(require.resolve(name)); ; dir = dirname(dir)) {
      if (existsSync(join(dir, 'package.json')) && dir.endsWith(name)) return dir;
      if (dirname(dir) === dir) throw new Error(`the package ${name} was not found in node_modules`);
    }
  };
  const hljs = pkgDir('highlight.js');
  const files: Record<string, { type: string; body: () => string }> = {
    '/vendor/marked.js': { type: 'text/javascript', body: () => readFileSync(join(pkgDir('marked'), 'lib', 'marked.esm.js'), 'utf8').replace(/\n\/\/# sourceMappingURL=.*$/m, '') },
    '/vendor/purify.js': { type: 'text/javascript', body: () => readFileSync(join(pkgDir('dompurify'), 'dist', 'purify.es.mjs'), 'utf8').replace(/\n\/\/# sourceMappingURL=.*$/m, '') },
    '/vendor/highlight.js': {
      type: 'text/javascript',
      body: () => `const module = { exports: {} };\n${readFileSync(join(hljs, 'lib', 'core.js'), 'utf8')}\nexport default module.exports;\n`,
    },
    '/vendor/highlight.css': { type: 'text/css', body: () => readFileSync(join(hljs, 'styles', 'github-dark.min.css'), 'utf8') },
  };
  for (const lang of HLJS_LANGUAGES) files[`/vendor/hljs/${lang}.js`] = { type: 'text/javascript', body: () => readFileSync(join(hljs, 'es', 'languages', `${lang}.js`), 'utf8') };
  for (const [url, file] of Object.entries(files)) {
    let body: string | null = null;
    app.get(url, (_request, reply) => {
      body ??= file.body();
      return reply.type(`${file.type}; charset=utf-8`).header('cache-control', 'public, max-age=0').send(body);
    });
  }
}
