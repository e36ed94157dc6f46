import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import { closeSync, existsSync, readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GatewayContext } from '../context.js';
import { DASHBOARD_PREFIX } from '../dashboard-path.js';
import type { RouteResponses } from '../openapi.js';
import { openInsideRoot, streamOf } from './public-files.js';

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

export { DASHBOARD_PREFIX };

/**
 * The dashboard at `/flow/`, and at `/` too unless the user's own frontend (PUBLIC_DIR) has it.
 * `wildcard: false` registers one GET route per file found at start, so there is no catch-all:
 * unknown paths (and anything with "..") fall through to the JSON 404, and the dashboard cannot
 * shadow an API route. The page shell and its scripts are public (the login screen must load
 * without a token); the data all comes from /api, which auth guards. The page links its files
 * relatively, so the same files work under either prefix.
 */
export async function webRoutes(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  // Every route of this scope is a file: public (the guard denies anything unmarked),
  // answered as @fastify/send answers a file request.
  app.addHook('onRoute', (route) => {
    if (route.config?.public === false) return;
    route.config = { ...route.config, public: true, responses: route.config?.responses ?? STATIC_RESPONSES, produces: route.config?.produces ?? mediaOf(route.url) };
  });
  vendorRoutes(app);
  const publicDir = ctx.deps.publicDir;
  const prefixes = publicDir ? [DASHBOARD_PREFIX] : ['/', DASHBOARD_PREFIX];
  for (const [i, prefix] of prefixes.entries()) {
    await app.register(fastifyStatic, {
      root: WEB_DIR,
      prefix,
      wildcard: false,
      index: ['index.html'],
      // Revalidate every time (ETag): a dashboard edited in place is never served stale.
      cacheControl: true,
      maxAge: 0,
      serveDotFiles: false,
      // reply.sendFile is decorated once per app.
      decorateReply: i === 0,
    });
  }
  // `/flow` → `/flow/`, so the page's relative links resolve under the prefix.
  app.route({
    method: 'GET',
    url: DASHBOARD_PREFIX.slice(0, -1),
    config: { public: true, responses: { 302: 'to /flow/, where the dashboard is' }, produces: 'text/html' },
    handler: (_request, reply) => reply.redirect(DASHBOARD_PREFIX, 302),
  });
  if (publicDir) {
    // The frontend's catch-all must not make unknown API paths public: a GET of one still needs
    // a login (401) when a password is set, so a 404 tells an outsider nothing.
    for (const url of ['/api/*', '/app/*']) {
      app.route({ method: 'GET', url, config: { public: false, responses: { 404: 'no such route' } }, handler: (_request, reply) => reply.callNotFound() });
    }
    await userFrontend(app, publicDir);
  }
}

/**
 * PUBLIC_DIR (seed 003): the user's own frontend at `/`. A catch-all, registered after the API,
 * so every /api route still wins (the router prefers a static segment to a wildcard); a path
 * that is no file there is Flow's JSON 404. Confined to the directory (resolved to its real path
 * once, at start): "..", encoded or not, and dotfiles are refused by name; every file is opened
 * first and then checked to be inside the directory (see public-files.ts), so a link leading out
 * — to a file or through a directory — is refused, even one swapped in while a request runs.
 */
async function userFrontend(app: FastifyInstance, dir: string): Promise<void> {
  const root = realpathSync(dir);
  app.route({
    // HEAD too, answered here: fastify's own HEAD route would read the whole file to drop it.
    method: ['GET', 'HEAD'],
    url: '/*',
    config: { public: true, responses: { ...STATIC_RESPONSES, 301: 'to the directory with a trailing slash (its index.html links relatively)', 404: 'no such file in PUBLIC_DIR' }, produces: 'text/html' },
    handler: (request, reply) => {
      const rel = (request.params as { '*'?: string })['*'] ?? '';
      const file = openInsideRoot(root, rel);
      if (!file) return reply.callNotFound();
      let sent = false;
      try {
        if (file.index && rel !== '' && !rel.endsWith('/')) {
          const [path, query] = splitQuery(request.url);
          return reply.redirect(`${path}/${query}`, 301);
        }
        const { size, mtime } = file.stat;
        const etag = `W/"${size.toString(16)}-${mtime.getTime().toString(16)}"`;
        const type = frontendMedia(file.path);
        reply
          .header('cache-control', 'public, max-age=0')
          .header('etag', etag)
          .header('last-modified', mtime.toUTCString())
          .header('accept-ranges', 'bytes')
          .type(type);
        const inm = request.headers['if-none-match'];
        if (inm && inm.split(',').some((t) => t.trim() === etag || t.trim() === '*')) return reply.code(304).send();
        let range: { start: number; end: number } | undefined;
        const asked = request.headers.range;
        if (asked && size > 0) {
          range = byteRange(asked, size) ?? undefined;
          if (!range) return reply.code(416).header('content-range', `bytes */${size}`).send();
          reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${size}`);
        }
        const length = range ? range.end - range.start + 1 : size;
        reply.header('content-length', length);
        if (request.method === 'HEAD' || length === 0) return reply.send();
        sent = true;
        return reply.send(streamOf(file, range));
      } finally {
        if (!sent) closeSync(file.fd);
      }
    },
  });
}

function splitQuery(url: string): [string, string] {
  const q = url.indexOf('?');
  return q === -1 ? [url, ''] : [url.slice(0, q), url.slice(q)];
}

/** One `bytes=a-b` range (or `a-`, or `-n`) within a file of `size` bytes; null when it is none of those or outside it. */
function byteRange(header: string, size: number): { start: number; end: number } | null {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  return start <= end && start < size ? { start, end } : null;
}

/** Media types of the files a web frontend ships; anything else is application/octet-stream. */
const FRONTEND_MEDIA: Record<string, string> = {
  '.html': 'text/html', '.htm': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css',
  '.json': 'application/json', '.map': 'application/json', '.webmanifest': 'application/manifest+json', '.txt': 'text/plain',
  '.xml': 'application/xml', '.svg': 'image/svg+xml', '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg',
  '.gif': 'image/gif', '.webp': 'image/webp', '.avif': 'image/avif', '.ico': 'image/x-icon', '.woff': 'font/woff',
  '.woff2': 'font/woff2', '.ttf': 'font/ttf', '.otf': 'font/otf', '.wasm': 'application/wasm', '.pdf': 'application/pdf',
  '.mp4': 'video/mp4', '.webm': 'video/webm', '.mp3': 'audio/mpeg',
};

/** A file's media type, text ones (and JSON, SVG) as UTF-8. */
function frontendMedia(path: string): string {
  const type = FRONTEND_MEDIA[extname(path).toLowerCase()] ?? 'application/octet-stream';
  return /^text\/|json|xml/.test(type) ? `${type}; charset=utf-8` : type;
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
