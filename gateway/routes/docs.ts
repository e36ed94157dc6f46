import type { FastifyInstance } from 'fastify';
import { OpenApiDocumentSchema, openApiDocument, type OpenApiDocument } from '../openapi.js';
import { zodRoute } from '../validation.js';

/** A page that fetches /api/docs (with the session cookie) and lists it: no CDN, no build step. */
const VIEWER = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Flow API</title>
<style>body{font:14px system-ui,sans-serif;background:#111;color:#ddd;margin:2em}code{color:#9cf}
table{border-collapse:collapse}td,th{padding:.3em .8em;border-bottom:1px solid #333;text-align:left;vertical-align:top}
.m{font-weight:bold;color:#fc6}pre{margin:0;color:#aaa;white-space:pre-wrap;max-width:60em}</style></head>
<body><h1>Flow API</h1><p>The OpenAPI 3.1 document: <a href="/api/docs" style="color:#9cf">/api/docs</a></p>
<table id="t"><tr><th>method</th><th>path</th><th>parameters and body</th></tr></table>
<script>
fetch('/api/docs').then(r => r.json()).then(doc => {
  const t = document.getElementById('t');
  for (const [path, ops] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(ops)) {
    const tr = t.insertRow();
    tr.insertCell().innerHTML = '<span class="m"></span>'; tr.cells[0].firstChild.textContent = method.toUpperCase();
    tr.insertCell().innerHTML = '<code></code>'; tr.cells[1].firstChild.textContent = path;
    const pre = document.createElement('pre');
    const parts = (op.parameters || []).map(p => p.in + ' ' + p.name + (p.required ? '' : '?') + ': ' + JSON.stringify(p.schema));
    if (op.requestBody) parts.push('body: ' + JSON.stringify(op.requestBody.content['application/json'].schema));
    pre.textContent = parts.join('\\n'); tr.insertCell().appendChild(pre);
  }
});
</script></body></html>`;

/** `GET /api/docs` (OpenAPI from every route's zod schemas) and `GET /api/docs/ui`. */
export async function docsRoutes(app: FastifyInstance): Promise<void> {
  let doc: OpenApiDocument | null = null;
  app.route({
    method: 'GET',
    url: '/api/docs',
    // Built on first request: by then every plugin, including ones registered after this, has its routes in.
    ...zodRoute({ response: OpenApiDocumentSchema }, () => (doc ??= openApiDocument(app.routeTable, { title: 'Flow', version: '0.1.0' }))),
  });
  app.route({
    method: 'GET',
    url: '/api/docs/ui',
    config: { produces: 'text/html' },
    handler: (_request, reply) => reply.type('text/html; charset=utf-8').send(VIEWER),
  });
}
