import { z } from 'zod';
import { BackendConfigSchema, type BackendContext } from '../actors/backend-child/index.js';
import { RetirementSchema, type ActorListing } from '../services/store/read-model.js';

/** A backend as the API shows it: the actor's projected state, with times as ISO strings. */
export const BackendViewSchema = z.object({
  name: z.string(),
  status: z.string(),
  restarts: z.number().int(),
  pid: z.number().int().nullable(),
  startedAt: z.string().nullable(),
  lastExit: z
    .object({
      pid: z.number().int().nullable(),
      code: z.number().int().nullable(),
      signal: z.string().nullable(),
      cause: z.string(),
      at: z.string(),
      ranMs: z.number().nullable(),
    })
    .nullable(),
  exits: z.number().int(),
  lastError: z.string().nullable(),
  config: BackendConfigSchema.nullable(),
  version: z.number().int(),
  updatedAt: z.string(),
  /** The host that runs it (distributed mode: an `f host --id`; embedded: this machine's host id). */
  host: z.string(),
  /** Set when status is `retired`: it belonged to a host log that is gone (why, in user words). */
  retired: RetirementSchema.nullable(),
});
export type BackendView = z.infer<typeof BackendViewSchema>;

const iso = (ms: number): string => new Date(ms).toISOString();

export function backendView(row: ActorListing): BackendView {
  // The projection stores the machine's context as JSON; its shape is the machine's.
  const c = row.snapshot.context as BackendContext;
  return {
    name: c.name || row.streamId.slice(row.streamId.indexOf(':') + 1),
    status: row.status,
    restarts: c.restarts,
    pid: c.run?.pid ?? null,
    startedAt: c.run ? iso(c.run.startedAt) : null,
    lastExit: c.lastExit ? { ...c.lastExit, at: iso(c.lastExit.at) } : null,
    exits: c.exits,
    lastError: c.lastError,
    config: c.config,
    version: row.version,
    updatedAt: row.updatedAt,
    host: row.host,
    retired: row.retired ?? null,
  };
}
