import { z } from 'zod';
import { SessionIdSchema, TaskIdSchema } from '../taskboard/paths.js';

/**
 * Features (seed 003's `/api/features/*`): named groups of board tasks with a status. Each one is
 * an event-sourced stream `feature:<id>` in Flow's log; the `features` table is its projection.
 */
export const FEATURE_STREAM_TYPE = 'feature';

/** A feature id names its stream (`feature:<id>`) and a URL segment. */
export const FeatureIdSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a feature id is 1-63 lower-case letters, digits, "-" or "_", starting with a letter or digit');
/** The task statuses Claude Code writes, so a feature reads like the tasks it groups. */
export const FeatureStatusSchema = z.enum(['pending', 'in_progress', 'completed']);
export const TaskRefSchema = z.object({ sessionId: SessionIdSchema, taskId: TaskIdSchema }).strict();
export const FeatureTitleSchema = z.string().trim().min(1, 'a feature needs a title').max(200, 'a title is at most 200 characters');
export const FeatureDescriptionSchema = z.string().max(20_000, 'a description is at most 20,000 characters');
export const FeatureTasksSchema = z.array(TaskRefSchema).max(1000, 'a feature groups at most 1,000 tasks');

export type FeatureStatus = z.infer<typeof FeatureStatusSchema>;
export type TaskRef = z.infer<typeof TaskRefSchema>;

export const FeatureCreatedSchema = z.object({ title: FeatureTitleSchema, description: FeatureDescriptionSchema, status: FeatureStatusSchema, tasks: FeatureTasksSchema });
/** Only the fields that changed. */
export const FeatureUpdatedSchema = FeatureCreatedSchema.partial();
export const FeatureDeletedSchema = z.object({});

/** Every event a feature stream holds, by type (printed by `f events schema`). */
export const featureEvents = {
  FEATURE_CREATED: FeatureCreatedSchema,
  FEATURE_UPDATED: FeatureUpdatedSchema,
  FEATURE_DELETED: FeatureDeletedSchema,
} as const;
export type FeatureEventType = keyof typeof featureEvents;

export const FeatureSchema = z.object({
  id: FeatureIdSchema,
  title: z.string(),
  description: z.string(),
  status: FeatureStatusSchema,
  tasks: z.array(TaskRefSchema),
  /** The stream's version: what the last change made it. */
  version: z.number().int().positive(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Feature = z.infer<typeof FeatureSchema>;
