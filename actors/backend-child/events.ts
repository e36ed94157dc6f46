import { z } from 'zod';
import { actorNameSchema, TimerFiredSchema, type MachineEvents } from '../kind.js';
import { ExitCauseSchema, ProcessStartedSchema, RestartPolicySchema } from '../lifecycle.js';

// A backend's restart policy (carried in its CREATED event) is the one every supervised kind uses.
export { DEFAULT_RESTART_POLICY, RestartPolicySchema, type RestartPolicy } from '../lifecycle.js';

export const BackendNameSchema = actorNameSchema('a backend name');

export const BackendConfigSchema = z.object({
  command: z.array(z.string().min(1, 'command words must not be empty')).min(1, 'a backend needs a command to run'),
  cwd: z.string().min(1),
  env: z.record(z.string(), z.string()).default({}),
  port: z.number().int().min(1).max(65535).nullable().default(null),
  watch: z.array(z.string().min(1)).default([]),
  watchExtensions: z.array(z.string().regex(/^\.[A-Za-z0-9]+$/)).default(['.ts', '.js', '.json']),
  stopGraceMs: z.number().int().min(0).max(600_000).default(5000),
  // Optional only for events from before policies (they fold to the defaults); the gateway
  // always writes it, so a later change of the defaults cannot change what a replay decides.
  restart: RestartPolicySchema.optional(),
});
export type BackendConfig = z.infer<typeof BackendConfigSchema>;

export const backendEvents = {
  CREATED: z.object({ name: BackendNameSchema, config: BackendConfigSchema, autostart: z.boolean() }),
  START_REQUESTED: z.object({}),
  STOP_REQUESTED: z.object({}),
  RESTART_REQUESTED: z.object({}),
  REMOVE_REQUESTED: z.object({}),
  PROCESS_STARTED: ProcessStartedSchema,
  SPAWN_FAILED: z.object({ error: z.string() }),
  PROCESS_EXITED: z.object({
    pid: z.number().int().positive(),
    code: z.number().int().nullable(),
    signal: z.string().nullable(),
    cause: ExitCauseSchema,
  }),
  FILES_CHANGED: z.object({ paths: z.array(z.string()).min(1) }),
  HOST_RESUMED: z.object({}),
  TIMER_FIRED: TimerFiredSchema,
} as const;

export type BackendEvent = MachineEvents<typeof backendEvents> | { type: 'WATCH_SETTLED' };
