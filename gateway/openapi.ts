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
  /** What the route itself answers beyond what the gateway answers for every route of its shape. */
  responses: RouteResponses | undefined;
  /** Its success is (or, asked so, becomes) a text/event-stream. */
  stream: boolean;
  /** The media type of a success that is not JSON (a file, a page). */
  produces: string | undefined;
  /** A stand-in that only refuses: its success is served by another gateway. */
  refusesAll: boolean;
  websocket: boolean;
  /** Fastify's own HEAD twin of a GET route. */
  autoHead: boolean;
}

/**
 * Status → what it means, for the answers a route's handler gives on its own: its success codes
 * (200 unless it says otherwise) and the refusals it throws. `default` is for a route that
 * passes on someone else's status (the /app proxy).
 */
export type RouteResponses = Partial<Record<number | 'default', string>>;

declare module 'fastify' {
  interface FastifyInstance {
    routeTable: CollectedRoute[];
  }
  interface FastifyContextConfig {
    responses?: RouteResponses;
    stream?: boolean;
    produces?: string;
    refusesAll?: boolean;
  }
}

/** Declares the statuses a route answers: `app.route({ method, url, ...responds({ 201: 'created' }, zodRoute(...)) })`. */
export function responds<R extends { config?: object }>(responses: RouteResponses, route: R): R & { config: NonNullable<R['config']> & { responses: RouteResponses } } {
  return { ...route, config: { ...(route.config as NonNullable<R['config']>), responses } };
}

/** Declares a route whose success is an SSE stream (always, or when the query asks for one). */
export function streams<R extends { config?: object }>(route: R): R & { config: NonNullable<R['config']> & { stream: true } } {
  return { ...route, config: { ...(route.config as NonNullable<R['config']>), stream: true as const } };
}

/**
 * Declares the statuses of routes a plugin registers, by URL, for a plugin whose route
 * definitions live elsewhere: call it on the plugin's scope before the plugin runs.
 */
export function documentResponses(scope: FastifyInstance, byUrl: Record<string, RouteResponses>): void {
  scope.addHook('onRoute', (route) => {
    const responses = byUrl[route.url];
    if (responses) route.config = { ...route.config, responses: { ...route.config?.responses, ...responses } };
  });
}

/** What a route that submits a command to the host can answer besides its success. */
export const COMMAND_RESPONSES: RouteResponses = {
  409: 'the actor is not in a state that takes this command (the host said so), or a name is taken',
  503: 'no host took the command, or the gateway\'s copy of the log has not caught up',
  504: 'the host did not answer in time; the command may still run',
};

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
        get responses() {
          return route.config?.responses;
        },
        get stream() {
          return route.config?.stream === true;
        },
        get produces() {
          return route.config?.produces;
        },
        get refusesAll() {
          return route.config?.refusesAll === true;
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

function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): JsonSchema {
  try {
    const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
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

/** Methods whose body Fastify reads (and may refuse as too large, of the wrong type, or bad JSON). */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Every status a route can answer: what the gateway answers for any route of its shape (the
 * host check, the login, the Origin check, the router, the body parser, validation, a bug),
 * then what the route itself declares. Kept exact so a client can rely on the list.
 */
export function routeStatuses(route: CollectedRoute): Record<string, string> {
  const out: Record<string, string> = {};
  const declared = route.responses ?? {};
  const successes = Object.keys(declared).filter((k) => /^[123]\d\d$/.test(k));
  if (route.websocket) {
    out['101'] = 'switching to a WebSocket';
    out['426'] = 'a plain GET: upgrade to a WebSocket';
  } else if (successes.length === 0 && declared.default === undefined && !route.refusesAll) {
    out['200'] = 'success';
  }
  out['400'] = 'the request is not valid: a parameter, the query, the body, the URL or the Host header; the message says which';
  if (!route.public) out['401'] = 'no valid token (only when a password is set): log in with POST /api/auth/login';
  if (!SAFE_METHODS.has(route.method) || route.websocket) out['403'] = 'sent from a page that this gateway did not serve (its Origin)';
  const hasParams = /:[A-Za-z0-9_]+|\*$/.test(route.url);
  if (hasParams) out['404'] = 'what the path names does not exist';
  if (BODY_METHODS.has(route.method) && !route.websocket) {
    out['413'] = 'the body is over the limit (1 MiB unless the route says otherwise)';
    out['415'] = 'the body is not JSON';
  }
  if (/:[A-Za-z0-9_]+/.test(route.url)) out['414'] = 'a part of the path is longer than 100 characters';
  out['421'] = 'the Host header names a host this gateway does not answer to (allow it with FLOW_ALLOWED_HOSTS)';
  out['431'] = 'the request headers are over 16 KiB';
  out['500'] = 'a bug in Flow; the details are in its log';
  for (const [status, description] of Object.entries(declared)) if (description !== undefined) out[status] = description;
  return out;
}

/** What a success carries: the route's JSON schema, its stream, or the media type it declares. */
function successContent(route: CollectedRoute): Record<string, unknown> | undefined {
  const content: Record<string, unknown> = {};
  const response = route.zod?.response;
  if (response) content['application/json'] = { schema: jsonSchema(response, 'output') };
  if (route.stream) content['text/event-stream'] = { schema: { type: 'string', description: 'Server-Sent Events' } };
  if (route.produces) content[route.produces] = {};
  return Object.keys(content).length > 0 ? content : undefined;
}

function responseObject(route: CollectedRoute, status: string, description: string): Record<string, unknown> {
  // Errors (and whatever a proxied backend answers) are described by status; Flow's own errors have one shape.
  if (/^[45]\d\d$/.test(status)) return { description, content: { 'application/json': { schema: ERROR_REF } } };
  const content = /^2\d\d$/.test(status) ? successContent(route) : undefined;
  return content ? { description, content } : { description };
}

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
    responses: Object.fromEntries(Object.entries(routeStatuses(route)).map(([status, description]) => [status, responseObject(route, status, description)])),
  };
  if (route.zod?.body) op.requestBody = { required: true, content: { 'application/json': { schema: jsonSchema(route.zod.body) } } };
  if (route.public) op.security = [];
  if (route.websocket) op['x-websocket'] = true;
  return op;
}

/** An OpenAPI 3.1 document (its shape is OpenAPI's, not Flow's: only the top level is named here). */
export const OpenApiDocumentSchema = z.looseObject({ openapi: z.string(), info: z.object({ title: z.string(), version: z.string() }), paths: z.record(z.string(), z.unknown()) });
export type OpenApiDocument = z.output<typeof OpenApiDocumentSchema>;

/** OpenAPI 3.1 (whose schemas are JSON Schema 2020-12, what z.toJSONSchema writes). */
export function openApiDocument(routes: readonly CollectedRoute[], info: { title: string; version: string }): OpenApiDocument {
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
