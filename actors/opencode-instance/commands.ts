import { z } from 'zod';
import { defineCommands } from '../kind.js';
import { RestartPolicySchema } from '../lifecycle.js';
import { HealthPolicySchema, InstanceIdSchema, OPENCODE_POLICY, sessionCallEvents, type instanceEvents } from './events.js';

export function instanceStreamId(id: string): string {
  return `opencode-instance:${id}`;
}

const call = sessionCallEvents;
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
  // Session calls: the instance's OpenCode server does them, through its host (services/opencode/session-calls.ts).
  call.SESSION_CREATE_REQUESTED.extend({ type: z.literal('opencode.session.create'), id: InstanceIdSchema }),
  call.SESSION_DELETE_REQUESTED.extend({ type: z.literal('opencode.session.delete'), id: InstanceIdSchema }),
  call.MESSAGE_SEND_REQUESTED.extend({ type: z.literal('opencode.session.send'), id: InstanceIdSchema }),
  call.ABORT_REQUESTED.extend({ type: z.literal('opencode.session.abort'), id: InstanceIdSchema }),
  call.PERMISSION_REPLY_REQUESTED.extend({ type: z.literal('opencode.permission.reply'), id: InstanceIdSchema }),
  call.QUESTION_ANSWER_REQUESTED.extend({ type: z.literal('opencode.question.answer'), id: InstanceIdSchema }),
] as const;
export const InstanceCommandSchema = z.discriminatedUnion('type', schemas);
export type InstanceCommand = z.infer<typeof InstanceCommandSchema>;
export type SessionCallCommand = Extract<InstanceCommand, { callId: string }>;

export const instanceCommandEvent = {
  'opencode.create': 'CREATED',
  'opencode.start': 'START_REQUESTED',
  'opencode.stop': 'STOP_REQUESTED',
  'opencode.remove': 'REMOVE_REQUESTED',
  'opencode.session.create': 'SESSION_CREATE_REQUESTED',
  'opencode.session.delete': 'SESSION_DELETE_REQUESTED',
  'opencode.session.send': 'MESSAGE_SEND_REQUESTED',
  'opencode.session.abort': 'ABORT_REQUESTED',
  'opencode.permission.reply': 'PERMISSION_REPLY_REQUESTED',
  'opencode.question.answer': 'QUESTION_ANSWER_REQUESTED',
} as const satisfies Record<InstanceCommand['type'], keyof typeof instanceEvents>;

export const instanceCommands = defineCommands({
  schemas,
  toEvent: (c: InstanceCommand) => {
    // The event's data is the command without its routing: the instance id names the stream.
    const { type, id, ...rest } = c;
    const data = type === 'opencode.create' ? { id, ...rest } : rest;
    return { streamId: instanceStreamId(id), type: instanceCommandEvent[type], data, creates: type === 'opencode.create' };
  },
  requests: Object.values(instanceCommandEvent),
});
