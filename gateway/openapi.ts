import type { FastifyInstance, RouteOptions } from 'fastify';
import { z } from 'zod';
import { ApiErrorBodySchema } from './errors.js';
import type { ZodRouteSchemas } from './validation.js';

/**
 * The route table as registered, collected by a root onRoute hook: the OpenAPI document is
 * generated from it (each route's `config.zod`), and the security tests enumerate it, so a
 * route added tomorrow is documented and checked without anyone listing it.
 */
export interface CollectedRoute {
  method: string;
  url: string;
  zod: ZodRouteSchemas | undefined;
  public: boolean;
  websocket: boolean;
  /** Fastify's own HEAD twin of a GET route. */
  autoHead: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    routeTable: CollectedRoute[];
  }
}

/** Call on the root instance before any route is registered. */
export function collectRoutes(app: FastifyInstance): CollectedRoute[] {
  const table: CollectedRoute[] = [];
  app.decorate('routeTable', table);
  const gets = new Set<string>();
  app.addHook('onRoute', (route: RouteOptions & { wsHandler?: unknown; websocket?: boolean }) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      const key = `${route.url}`;
      if (method === 'GET') gets.add(key);
      table.push({
        method,
        url: route.url,
        // Read when asked: onRoute hooks of inner scopes (the dashboard marks its files public) run after this one.
        get zod() {
          return route.config?.zod;
        },
        get public() {
          return route.config?.public === true;
        },
        websocket: Boolean(route.wsHandler ?? route.websocket),
        // Fastify registers HEAD right after its GET with the same options.
        autoHead: method === 'HEAD' && gets.has(key),
      });
    }
  });
  return table;
}

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType): JsonSchema {
  try {
    const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
    return rest;
  } catch {
    // A schema zod cannot express (a refinement on a custom type) is documented as "anything".
    return {};
  }
}

/** `/api/backends/:id` → `/api/backends/{id}`; Fastify's `*` → `{path}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*$/, '{path}');
}

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required: boolean;
  schema: JsonSchema;
  description?: string;
}

function parametersOf(schema: z.ZodType | undefined, where: 'path' | 'query' | 'header'): Parameter[] {
  if (!schema) return [];
  const js = jsonSchema(schema);
  const props = (js.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((js.required ?? []) as string[]);
  return Object.entries(props).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    schema: s,
    ...(typeof s.description === 'string' ? { description: s.description } : {}),
  }));
}

const ERROR_REF = { $ref: '#/components/schemas/ApiError' };

function operation(route: CollectedRoute): Record<string, unknown> {
  const params = parametersOf(route.zod?.params, 'path');
  // A path parameter the route declares but validates by hand (or the `*` of a proxy) is still a parameter.
  for (const m of route.url.matchAll(/:([A-Za-z0-9_]+)/g)) {
    if (!params.some((p) => p.name === m[1])) params.push({ name: m[1]!, in: 'path', required: true, schema: { type: 'string' } });
  }
  if (route.url.endsWith('*')) params.push({ name: 'path', in: 'path', required: true, schema: { type: 'string' }, description: 'the rest of the path' });
  const op: Record<string, unknown> = {
    operationId: `${route.method.toLowerCase()} ${route.url}`,
    parameters: [...params, ...parametersOf(route.zod?.query, 'query'), ...parametersOf(route.zod?.headers, 'header')],
    responses: {
      '200': { description: route.websocket ? 'a plain GET is answered 426; upgrade to a WebSocket' : 'success' },
      '4XX': { description: 'the request was refused', content: { 'application/json': { schema: ERROR_REF } } },
      '5XX': { description: 'the server or what it fronts failed', content: { 'application/json': { schema: ERROR_REF } } },
    },
  };
  if (route.zod?.body) op.requestBody = { required: true, content: { 'application/json': { schema: jsonSchema(route.zod.body) } } };
  if (route.public) op.security = [];
  if (route.websocket) op['x-websocket'] = true;
  return op;
}

/** OpenAPI 3.1 (whose schemas are JSON Schema 2020-12, what z.toJSONSchema writes). */
export function openApiDocument(routes: readonly CollectedRoute[], info: { title: string; version: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    if (route.autoHead) continue;
    const path = openApiPath(route.url);
    (paths[path] ??= {})[route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info,
    paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b))),
    components: {
      schemas: { ApiError: jsonSchema(ApiErrorBodySchema) },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'from POST /api/auth/login (needed only when a password is set)' },
        cookie: { type: 'apiKey', in: 'cookie', name: 'flow_session' },
      },
    },
    security: [{ bearer: [] }, { cookie: [] }],
  };
}
