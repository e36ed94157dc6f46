import { z } from 'zod';
import { defineCommands } from '../kind.js';
import { RestartPolicySchema } from '../lifecycle.js';
import { HealthPolicySchema, InstanceIdSchema, OPENCODE_POLICY, type instanceEvents } from './events.js';

export function instanceStreamId(id: string): string {
  return `opencode-instance:${id}`;
}

/** Commands a client may send about an instance; each maps to one event of its stream. */
const schemas = [
  z.object({
    type: z.literal('opencode.create'),
    id: InstanceIdSchema,
    directory: z.string().min(1),
    autostart: z.boolean().default(true),
    startTimeoutMs: z.number().int().min(100).max(600_000).default(OPENCODE_POLICY.defaultStartTimeoutMs),
    // Always written into CREATED, so a later change of the defaults cannot change what a replay decides.
    health: HealthPolicySchema.prefault({}),
    restart: RestartPolicySchema.prefault({}),
  }),
  z.object({ type: z.literal('opencode.start'), id: InstanceIdSchema }),
  z.object({ type: z.literal('opencode.stop'), id: InstanceIdSchema }),
  z.object({ type: z.literal('opencode.remove'), id: InstanceIdSchema }),
] as const;
export const InstanceCommandSchema = z.discriminatedUnion('type', schemas);
export type InstanceCommand = z.infer<typeof InstanceCommandSchema>;

export const instanceCommandEvent = {
  'opencode.create': 'CREATED',
  'opencode.start': 'START_REQUESTED',
  'opencode.stop': 'STOP_REQUESTED',
  'opencode.remove': 'REMOVE_REQUESTED',
} as const satisfies Record<InstanceCommand['type'], keyof typeof instanceEvents>;

export const instanceCommands = defineCommands({
  schemas,
  toEvent: (c: InstanceCommand) => {
    const data = c.type === 'opencode.create' ? { id: c.id, directory: c.directory, autostart: c.autostart, startTimeoutMs: c.startTimeoutMs, health: c.health, restart: c.restart } : {};
    return { streamId: instanceStreamId(c.id), type: instanceCommandEvent[c.type], data, creates: c.type === 'opencode.create' };
  },
  requests: Object.values(instanceCommandEvent),
});
