import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  readTheme,
  SessionIdSchema,
  SetThemeBodySchema,
  TaskboardError,
  TaskIdSchema,
  TaskSchema,
  ThemeSchema,
  writeTheme,
  type SessionSummary,
  type TaskBoard,
  type TaskWithSession,
} from '../../services/taskboard/index.js';
import type { GatewayContext, RoutePlugin } from '../context.js';
import { ApiError } from '../errors.js';
import { zodRoute } from '../validation.js';
import { responds } from '../openapi.js';
import { taskStreamRoutes } from './task-streams.js';

/** Seed 003's task board routes, over a running TaskBoard; the theme lives in $FLOW_HOME. */
export const SessionParamsSchema = z.object({ id: SessionIdSchema });
export const TaskParamsSchema = z.object({ session: SessionIdSchema, task: TaskIdSchema });
export const NoteBodySchema = z.object({ note: z.string().min(1, 'a note must not be empty').max(20_000) }).strict();
export const SessionsQuerySchema = z.object({
  /** How many sessions, most recently changed first; "all" for every one (default 20, as the original). */
  limit: z
    .union([z.literal('all'), z.string().regex(/^\d{1,6}$/, 'limit is a whole number or "all"')])
    .optional(),
});

/** What the board shows (seed 003's shapes): the task files as the agents wrote them, plus where they belong. */
export const TaskWithSessionSchema = TaskSchema.extend({ sessionId: z.string(), sessionName: z.string().nullable(), project: z.string().nullable() }) satisfies z.ZodType<TaskWithSession>;
export const TaskSessionSchema = z.object({
  id: z.string(),
  name: z.string().nullable(),
  slug: z.string().nullable(),
  project: z.string().nullable(),
  description: z.string().nullable(),
  gitBranch: z.string().nullable(),
  taskCount: z.number().int(),
  completed: z.number().int(),
  inProgress: z.number().int(),
  pending: z.number().int(),
  createdAt: z.string().nullable(),
  modifiedAt: z.string(),
}) satisfies z.ZodType<SessionSummary>;
export const NoteAddedSchema = z.object({ success: z.literal(true), task: TaskSchema });
export const TaskDeletedSchema = z.object({ success: z.literal(true), taskId: z.string() });

async function board<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof TaskboardError) throw new ApiError(err.code === 'not_found' ? 404 : err.code === 'conflict' ? 409 : 400, err.code, err.message);
    throw err;
  }
}

export async function taskRoutes(app: FastifyInstance, deps: { board: TaskBoard; home: string }): Promise<void> {
  const { board: tb, home } = deps;

  app.route({
    method: 'GET',
    url: '/api/tasks/all',
    ...zodRoute({ response: z.array(TaskWithSessionSchema) }, async () => tb.files.allTasks(await tb.metadata.get())),
  });

  app.route({
    method: 'GET',
    url: '/api/tasks/sessions',
    ...zodRoute({ query: SessionsQuerySchema, response: z.array(TaskSessionSchema) }, async ({ query }) => {
      const sessions = await tb.files.sessions(await tb.metadata.get());
      const limit = query.limit ?? '20';
      return limit === 'all' ? sessions : sessions.slice(0, Number(limit));
    }),
  });

  app.route({
    method: 'GET',
    url: '/api/tasks/sessions/:id',
    ...zodRoute({ params: SessionParamsSchema, response: z.array(TaskSchema) }, ({ params }) => board(() => tb.files.sessionTasks(params.id))),
  });

  app.route({
    method: 'POST',
    url: '/api/tasks/:session/:task/note',
    ...zodRoute({ params: TaskParamsSchema, body: NoteBodySchema, response: NoteAddedSchema }, ({ params, body }) =>
      board(async () => ({ success: true as const, task: await tb.files.addNote(params.session, params.task, body.note) })),
    ),
  });

  app.route({
    method: 'DELETE',
    url: '/api/tasks/:session/:task',
    ...responds({ 409: 'another task is blocked by this one' }, zodRoute({ params: TaskParamsSchema, response: TaskDeletedSchema }, ({ params }) =>
      board(async () => {
        await tb.files.deleteTask(params.session, params.task);
        return { success: true as const, taskId: params.task };
      }),
    )),
  });

  app.route({
    method: 'GET',
    url: '/api/theme',
    ...zodRoute({ response: ThemeSchema }, () => readTheme(home)),
  });

  app.route({
    method: 'POST',
    url: '/api/theme',
    ...zodRoute({ body: SetThemeBodySchema, response: ThemeSchema }, ({ body }) => {
      const theme = writeTheme(home, body.theme);
      tb.publishTheme(theme);
      return theme;
    }),
  });
}

/** The routes as a gateway RoutePlugin (for `extraRoutes`). */
export function taskRoutePlugin(deps: { board: TaskBoard; home: string }): RoutePlugin {
  return async (app: FastifyInstance, ctx: GatewayContext) => {
    await taskRoutes(app, deps);
    await taskStreamRoutes(app, ctx);
  };
}
