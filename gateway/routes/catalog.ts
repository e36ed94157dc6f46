import { createReadStream, realpathSync, statSync } from 'node:fs';
import { extname, join, resolve, sep } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';

const TYPES: Record<string, string> = {
  '.json': 'application/json; charset=utf-8',
  '.tgz': 'application/gzip',
  '.gz': 'application/gzip',
};

function notFound(reply: FastifyReply, what: string): FastifyReply {
  return reply.code(404).send({ error: { code: 'not_found', message: `${what} is not in this catalog` } });
}

/**
 * Serves $FLOW_HOME/catalog (what `f catalog publish --to $FLOW_HOME/catalog` writes) as static
 * files at /api/catalog/, so another Flow can set FLOW_CATALOG_URL=http://<this>/api/catalog/.
 * Only regular files inside the catalog directory are served: no "..", no absolute paths, no
 * symlink that leads out.
 */
export async function catalogRoutes(app: FastifyInstance, opts: { home: string }): Promise<void> {
  const root = resolve(opts.home, 'catalog');
  const serve = (rel: string, reply: FastifyReply) => {
    if (rel.includes('\0') || rel.includes('\\') || rel.split('/').some((s) => s === '..') || rel.startsWith('/')) {
      return reply.code(400).send({ error: { code: 'invalid', message: 'catalog paths are relative and stay inside the catalog' } });
    }
    const file = resolve(root, rel);
    let real: string;
    try {
      real = realpathSync(file);
    } catch {
      return notFound(reply, rel);
    }
    let realRoot: string;
    try {
      realRoot = realpathSync(root);
    } catch {
      return notFound(reply, rel);
    }
    if (!real.startsWith(realRoot + sep) || !statSync(real).isFile()) return notFound(reply, rel);
    const size = statSync(real).size;
    return reply
      .header('content-type', TYPES[extname(real)] ?? 'application/octet-stream')
      .header('content-length', size)
      .header('cache-control', 'no-cache')
      .send(createReadStream(real));
  };
  app.get('/api/catalog/', { config: { produces: 'application/json', responses: { 404: 'no catalog has been published here (no index.json)' } } }, (_req, reply) => serve('index.json', reply));
  // index.json, manifests and archives: each with its own type.
  app.get('/api/catalog/*', { config: { produces: '*/*' } }, (req, reply) => {
    const rel = (req.params as { '*': string })['*'] || 'index.json';
    return serve(join(rel), reply);
  });
}
