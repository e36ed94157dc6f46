import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  FeatureDescriptionSchema,
  FeatureError,
  FeatureIdSchema,
  FeatureSchema,
  FeatureStatusSchema,
  FeatureTasksSchema,
  FeatureTitleSchema,
  TaskRefSchema,
  type FeatureService,
} from '../../services/features/index.js';
import { TaskboardError, TaskSchema, type Task, type TaskBoard } from '../../services/taskboard/index.js';
import type { GatewayContext, RoutePlugin } from '../context.js';
import { ApiError } from '../errors.js';
import { responds } from '../openapi.js';
import { zodRoute } from '../validation.js';

/** Seed 003's `/api/features/*`: features that group board tasks, stored as streams in Flow's log. */
export const FeatureParamsSchema = z.object({ id: FeatureIdSchema });
export const CreateFeatureBodySchema = z
  .object({
    /** Default: the title as a slug ("Login page" → "login-page"), with a suffix when taken. */
    id: FeatureIdSchema.optional(),
    title: FeatureTitleSchema,
    description: FeatureDescriptionSchema.optional(),
    status: FeatureStatusSchema.optional(),
    tasks: FeatureTasksSchema.optional(),
  })
  .strict();
export const UpdateFeatureBodySchema = z
  .object({ title: FeatureTitleSchema.optional(), description: FeatureDescriptionSchema.optional(), status: FeatureStatusSchema.optional(), tasks: FeatureTasksSchema.optional() })
  .strict()
  .refine((b) => Object.keys(b).length > 0, 'send at least one of title, description, status, tasks');

/** A grouped task as the board has it now; `task` is null when its file is gone (or unreadable). */
export const FeatureTaskSchema = TaskRefSchema.extend({ task: TaskSchema.nullable() });
export const FeatureProgressSchema = z.object({ total: z.number().int(), completed: z.number().int(), inProgress: z.number().int(), pending: z.number().int(), missing: z.number().int() });
export const FeatureWithTasksSchema = FeatureSchema.extend({ tasks: z.array(FeatureTaskSchema), progress: FeatureProgressSchema });
export const FeatureDeletedSchema = z.object({ success: z.literal(true), id: z.string() });

function feature<T>(work: () => T): T {
  try {
    return work();
  } catch (err) {
    if (err instanceof FeatureError) throw new ApiError(err.code === 'not_found' ? 404 : err.code === 'conflict' ? 409 : 400, err.code, err.message);
    throw err;
  }
}

/** The feature's tasks from the board's files, one read per session. */
async function withTasks(board: TaskBoard, f: ReturnType<FeatureService['get']>): Promise<z.infer<typeof FeatureWithTasksSchema>> {
  const sessions = new Map<string, Promise<Map<string, Task>>>();
  const sessionTasks = (id: string) => {
    let tasks = sessions.get(id);
    if (!tasks) {
      tasks = board.files.sessionTasks(id, { lenient: true }).then(
        (list) => new Map(list.map((t) => [t.id, t])),
        (err: unknown) => {
          if (err instanceof TaskboardError) return new Map<string, Task>();
          throw err;
        },
      );
      sessions.set(id, tasks);
    }
    return tasks;
  };
  const tasks = await Promise.all(f.tasks.map(async (ref) => ({ ...ref, task: (await sessionTasks(ref.sessionId)).get(ref.taskId) ?? null })));
  const progress = { total: tasks.length, completed: 0, inProgress: 0, pending: 0, missing: 0 };
  for (const { task } of tasks) {
    if (!task) progress.missing++;
    else if (task.status === 'completed') progress.completed++;
    else if (task.status === 'in_progress') progress.inProgress++;
    else progress.pending++;
  }
  return { ...f, tasks, progress };
}

export async function featureRoutes(app: FastifyInstance, deps: { features: FeatureService; board: TaskBoard }): Promise<void> {
  const { features, board } = deps;

  app.route({
    method: 'GET',
    url: '/api/features',
    ...zodRoute({ response: z.array(FeatureSchema) }, () => features.list()),
  });

  app.route({
    method: 'POST',
    url: '/api/features',
    ...responds({ 201: 'the feature, created', 409: 'a feature with this id exists' }, zodRoute({ body: CreateFeatureBodySchema, response: FeatureSchema }, ({ body }, _request, reply) => {
      const created = feature(() => features.create(body));
      reply.code(201);
      return created;
    })),
  });

  app.route({
    method: 'GET',
    url: '/api/features/:id',
    ...responds({ 404: 'no such feature' }, zodRoute({ params: FeatureParamsSchema, response: FeatureWithTasksSchema }, ({ params }) => withTasks(board, feature(() => features.get(params.id))))),
  });

  app.route({
    method: 'PATCH',
    url: '/api/features/:id',
    ...responds({ 404: 'no such feature', 409: 'the feature was changed at the same time by another request' }, zodRoute({ params: FeatureParamsSchema, body: UpdateFeatureBodySchema, response: FeatureSchema }, ({ params, body }) =>
      feature(() => features.update(params.id, body)),
    )),
  });

  app.route({
    method: 'DELETE',
    url: '/api/features/:id',
    ...responds({ 404: 'no such feature', 409: 'the feature was changed at the same time by another request' }, zodRoute({ params: FeatureParamsSchema, response: FeatureDeletedSchema }, ({ params }) => {
      feature(() => features.remove(params.id));
      return { success: true as const, id: params.id };
    })),
  });
}

/**
 * What `/api/features` is in this gateway: the API, turned off (FLOW_FEATURES unset: 404 that
 * says how to turn it on), or on a gateway with no host log of its own to write (503).
 */
export type FeaturesSetting = { on: FeatureService } | { off: 'disabled' | 'no-log' };

export function featureRoutePlugin(setting: FeaturesSetting, board: TaskBoard): RoutePlugin {
  return async (app: FastifyInstance, _ctx: GatewayContext) => {
    if ('on' in setting) return featureRoutes(app, { features: setting.on, board });
    const [status, message] =
      setting.off === 'disabled'
        ? [404, 'the features API is off: start Flow with FLOW_FEATURES=1 to keep features (groups of board tasks) in its log'] as const
        : [503, 'features are kept in a host\'s log: use the gateway that runs with a host ("f up"), not "f gateway" alone'] as const;
    const refuse = () => {
      throw new ApiError(status, status === 404 ? 'not_found' : 'unavailable', message);
    };
    const config = { refusesAll: true, responses: { [status]: status === 404 ? 'the features API is off (FLOW_FEATURES is not 1)' : 'features are not served by a gateway without a host' } };
    for (const url of ['/api/features', '/api/features/*']) app.all(url, { config }, refuse);
  };
}
