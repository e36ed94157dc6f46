import type { FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { z } from 'zod';
import { ApiError, formatZodError } from './errors.js';

/**
 * zod is the single source of truth for what a route accepts. Each route keeps its schemas in
 * `config.zod`, so an onRoute hook can later turn the route table into an OpenAPI document
 * (`z.toJSONSchema(schema, { io: 'input' })`) without retyping a field.
 */
export interface ZodRouteSchemas {
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  headers?: z.ZodType;
  /** The JSON body of the route's success (what its view function returns): documented, and checked by the route tier. */
  response?: z.ZodType;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    zod?: ZodRouteSchemas;
  }
}

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface RouteInput<S extends ZodRouteSchemas> {
  params: Out<S['params']>;
  query: Out<S['query']>;
  body: Out<S['body']>;
  headers: Out<S['headers']>;
}

export function parsePart<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw ApiError.invalid(formatZodError(parsed.error, where));
  return parsed.data;
}

/** A parameter's name as a message may quote it: plain names as they are, any other as JSON, cut short. */
function parameterPath(name: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/.test(name)) return `query.${name}`;
  return `query[${JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name)}]`;
}

/**
 * The query parameters a route takes: the keys of its query schema, none without one. Any other
 * is refused, so a misspelt `?limt=5`, or one the route never had, is an error and is not read
 * as the default. A query schema must be a `z.object`, so its keys are known when the route is
 * defined.
 */
export function queryParameters(schema: z.ZodType | undefined): readonly string[] {
  if (schema === undefined) return [];
  if (schema instanceof z.ZodObject) return Object.keys(schema.shape);
  throw new Error('a route\'s query schema must be a z.object, so the parameters it takes are known');
}

function refuseUnknownParameters(query: unknown, takes: readonly string[]): void {
  if (query === null || typeof query !== 'object') return;
  const unknown = Object.keys(query).filter((k) => !takes.includes(k));
  const why = takes.length ? `this route takes no such parameter (it takes ${takes.join(', ')})` : 'this route takes no query parameters';
  const problems = unknown.map((k) => `${parameterPath(k)}: ${why}`);
  // No route takes a list: ?limit=1&limit=2 is a mistake, not a choice between the two.
  for (const [k, v] of Object.entries(query)) if (Array.isArray(v) && takes.includes(k)) problems.push(`${parameterPath(k)}: given ${v.length} times; give it once`);
  if (problems.length) throw ApiError.invalid(problems.slice(0, 10).join('; '));
}

export function parseRequest<S extends ZodRouteSchemas>(schemas: S, request: FastifyRequest, takes = queryParameters(schemas.query)): RouteInput<S> {
  refuseUnknownParameters(request.query, takes);
  return {
    params: (schemas.params ? parsePart(schemas.params, request.params, 'params') : undefined) as Out<S['params']>,
    query: (schemas.query ? parsePart(schemas.query, request.query ?? {}, 'query') : undefined) as Out<S['query']>,
    body: (schemas.body ? parsePart(schemas.body, request.body ?? {}, 'body') : undefined) as Out<S['body']>,
    headers: (schemas.headers ? parsePart(schemas.headers, request.headers, 'headers') : undefined) as Out<S['headers']>,
  };
}

/** With a response schema, what the handler returns must be of its shape (or the reply, sent by hand). */
type Answer<S extends ZodRouteSchemas> = S['response'] extends z.ZodType ? z.output<S['response']> | FastifyReply : unknown;

/** A route's options: its schemas (kept for OpenAPI) and a handler that receives parsed input. */
export function zodRoute<S extends ZodRouteSchemas>(
  schemas: S,
  handler: (input: RouteInput<S>, request: FastifyRequest, reply: FastifyReply) => Answer<S> | Promise<Answer<S>>,
): { config: { zod: S }; handler: RouteHandlerMethod } {
  const takes = queryParameters(schemas.query);
  return {
    config: { zod: schemas },
    handler: async function (request, reply) {
      return handler(parseRequest(schemas, request, takes), request, reply);
    },
  };
}

/** A whole, non-negative number in a query string or header ("10", not "1e1" or ""). */
export function wholeNumber(what: string) {
  return z
    .string()
    .regex(/^\d+$/, { error: `${what} must be a whole number`, abort: true })
    .max(15, `${what} is too large (at most 15 digits)`)
    .transform(Number);
}

/** `?follow=1|true|0|false` and friends. */
export function queryFlag(what: string) {
  return z.enum(['1', '0', 'true', 'false', ''], { error: `${what} must be 1, 0, true or false` }).transform((v) => v === '1' || v === 'true' || v === '');
}
