import type { FastifyError, FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CommandErrorCode, type CommandResult } from '../services/host/commands.js';

/**
 * Every error the API returns has this body, whatever produced it: a command the host refused,
 * a zod validation, an unknown route, or Fastify itself (bad JSON, body too large).
 */
export const ApiErrorCodeSchema = z.enum([...CommandErrorCode.options, 'too_large', 'unsupported_media_type', 'unauthorized', 'forbidden', 'bad_gateway', 'rate_limited']);
export type ApiErrorCode = z.infer<typeof ApiErrorCodeSchema>;

export const ApiErrorBodySchema = z.object({
  error: z.object({ code: ApiErrorCodeSchema, message: z.string() }),
});
export type ApiErrorBody = z.infer<typeof ApiErrorBodySchema>;

/** The HTTP status for each way a command can fail (seed 003's mapping). */
export const commandErrorStatus: Record<CommandErrorCode, number> = {
  invalid: 400,
  not_found: 404,
  conflict: 409,
  invalid_state: 409,
  unavailable: 503,
  timeout: 504,
  internal: 500,
};

/** An error a route throws on purpose; the handler below turns it into its status and body. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly statusCode: number,
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
  }

  static notFound(message: string): ApiError {
    return new ApiError(404, 'not_found', message);
  }

  static invalid(message: string): ApiError {
    return new ApiError(400, 'invalid', message);
  }

  static conflict(message: string): ApiError {
    return new ApiError(409, 'conflict', message);
  }

  static unauthorized(message: string): ApiError {
    return new ApiError(401, 'unauthorized', message);
  }

  static forbidden(message: string): ApiError {
    return new ApiError(403, 'forbidden', message);
  }

  /** The gateway works but what it stands in front of (a backend child) does not answer. */
  static badGateway(message: string): ApiError {
    return new ApiError(502, 'bad_gateway', message);
  }

  static fromCommand(result: Extract<CommandResult, { ok: false }>): ApiError {
    return new ApiError(commandErrorStatus[result.error.code], result.error.code, result.error.message);
  }
}

/** `where` names the part of the request ("body", "query", "params") so the message points at the field. */
export function formatZodError(err: z.ZodError, where: string): string {
  return err.issues
    .map((i) => {
      const path = [where, ...i.path.map(String)].join('.');
      return `${path}: ${i.message}`;
    })
    .join('; ');
}

export function errorBody(code: ApiErrorCode, message: string): ApiErrorBody {
  return { error: { code, message } };
}

/** Fastify's own errors carry a status; these are the ones a client can cause. */
function codeForStatus(status: number): ApiErrorCode {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 409) return 'conflict';
  if (status === 413) return 'too_large';
  if (status === 415) return 'unsupported_media_type';
  if (status === 429) return 'rate_limited';
  if (status === 503) return 'unavailable';
  if (status === 504) return 'timeout';
  if (status >= 500) return 'internal';
  return 'invalid';
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | ApiError | z.ZodError, request, reply) => {
    if (err instanceof ApiError) {
      return reply.code(err.statusCode).send(errorBody(err.code, err.message));
    }
    if (err instanceof z.ZodError) {
      return reply.code(400).send(errorBody('invalid', formatZodError(err, 'request')));
    }
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err }, 'unhandled error');
      // Internals stay in the log; the client learns only that it was not its fault.
      return reply.code(status).send(errorBody('internal', 'internal error; see the Flow log'));
    }
    return reply.code(status).send(errorBody(codeForStatus(status), err.message));
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? request.url;
    return reply.code(404).send(errorBody('not_found', `no route ${request.method} ${path}`));
  });
}
