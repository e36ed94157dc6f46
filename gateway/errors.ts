import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { z } from 'zod';
import { CommandErrorCode, type CommandResult } from '../services/host/commands.js';

/**
 * Every error the API returns has this body, whatever produced it: a command the host refused,
 * a zod validation, an unknown route, or Fastify itself (bad JSON, body too large).
 */
export const ApiErrorCodeSchema = z.enum([
  ...CommandErrorCode.options,
  'too_large',
  'too_long',
  'unsupported_media_type',
  'unauthorized',
  'forbidden',
  'misdirected',
  'rate_limited',
  'bad_gateway',
]);
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
  if (status === 408) return 'timeout';
  if (status === 409) return 'conflict';
  if (status === 413 || status === 431) return 'too_large';
  if (status === 414) return 'too_long';
  if (status === 415) return 'unsupported_media_type';
  if (status === 421) return 'misdirected';
  if (status === 429) return 'rate_limited';
  if (status === 503) return 'unavailable';
  if (status === 504) return 'timeout';
  if (status >= 500) return 'internal';
  return 'invalid';
}

/** Where a 500 is written: the stderr of `f up` / `f gateway` unless the caller says otherwise. */
export type ErrorLog = (line: string) => void;

export const stderrErrorLog: ErrorLog = (line) => {
  process.stderr.write(`[flow gateway] ${line}\n`);
};

function describeError(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  return String(err);
}

/** The code of an error that says the disk (or the user's quota) is full, from the file system or SQLite. */
function fullDiskCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL' ? code : undefined;
}

/** One line (plus the stack) per 500: what was asked, by which route, and what broke. */
function log500(log: ErrorLog, request: FastifyRequest, err: unknown): void {
  const route = request.routeOptions?.url;
  log(`500 on ${request.method} ${request.url}${route && route !== request.url ? ` (route ${route})` : ''} [request ${request.id}]: ${describeError(err)}`);
}

/**
 * Errors Fastify's router raises before any hook or handler (a path it cannot decode, a
 * parameter over maxParamLength): they get Flow's body too (Fastify's own would say
 * `FST_ERR_MAX_PARAM_LENGTH` with a body of its own shape).
 */
export function frameworkErrorHandler(log: ErrorLog = stderrErrorLog): NonNullable<FastifyServerOptions['frameworkErrors']> {
  return (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
      return reply.code(414).send(errorBody('too_long', 'a part of the path is longer than 100 characters; no name Flow uses is that long'));
    }
    if (err.code === 'FST_ERR_BAD_URL') {
      return reply.code(400).send(errorBody('invalid', 'the path is not a valid URL: a "%" must be followed by two hex digits'));
    }
    log500(log, request, err);
    return reply.code(500).send(errorBody('internal', `internal error (request ${request.id}); the details are in the Flow log`));
  };
}

/**
 * What Node's HTTP parser refuses before Fastify sees a request (headers over 16 KiB, a
 * malformed request line, a client too slow to send its headers): answered on the socket in
 * Flow's shape, then the connection is closed (the parser cannot go on after an error).
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, body] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, errorBody('too_large', 'the request headers are over 16 KiB; send fewer or smaller headers (large cookies from other sites on this host?)')]
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, errorBody('timeout', 'the request took too long to arrive')]
        : [400, errorBody('invalid', `the request is not valid HTTP/1.1 (${err.code ?? err.message})`)];
  const text = JSON.stringify(body);
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
  }
  socket.destroy();
}

export function installErrorHandlers(app: FastifyInstance, log: ErrorLog = stderrErrorLog): void {
  app.setErrorHandler((err: FastifyError | ApiError | z.ZodError, request, reply) => {
    if (err instanceof ApiError) {
      // A 500 on purpose still means something broke (a host's internal failure): it is logged too.
      if (err.statusCode === 500) log500(log, request, err);
      return reply.code(err.statusCode).send(errorBody(err.code, err.message));
    }
    if (err instanceof z.ZodError) {
      return reply.code(400).send(errorBody('invalid', formatZodError(err, 'request')));
    }
    const full = fullDiskCode(err);
    if (full) {
      // Not a bug, but the user must hear of it: the log says which request met it.
      log(`503 on ${request.method} ${request.url} [request ${request.id}]: ${describeError(err)}`);
      return reply.code(503).send(errorBody('unavailable', `Flow could not write to its disk: the disk is full (${full}); the request stopped there: free disk space where FLOW_HOME lives, then try again`));
    }
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) {
      log500(log, request, err);
      // Internals stay in the log; the client learns only that it was not its fault, and which request to look for.
      return reply.code(status).send(errorBody('internal', `internal error (request ${request.id}); the details are in the Flow log`));
    }
    return reply.code(status).send(errorBody(codeForStatus(status), err.message));
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? request.url;
    return reply.code(404).send(errorBody('not_found', `no route ${request.method} ${path}`));
  });
}
