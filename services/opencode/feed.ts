import { z } from 'zod';
import { liveSubjects } from '../bus/names.js';
import { MessageRecordSchema } from '../../actors/opencode-instance/index.js';
import { SessionViewSchema } from './views.js';

/**
 * The live feed of one session: what `/api/sessions/:id/events` streams. Text deltas and part
 * updates are live only (never durable events); `session` and `message.completed` mirror
 * durable facts just after they are stored, so one ordered channel carries everything a chat
 * view needs: deltas in order, then the final text.
 */
export function sessionSubject(instanceId: string, sessionId: string): string {
  return liveSubjects.session(instanceId, sessionId);
}

/** Every change of "who waits for you", across instances. */
export function attentionSubject(instanceId: string): string {
  return liveSubjects.attention(instanceId);
}
export const ATTENTION_PATTERN = liveSubjects.attentionAll;

export const PartFeedSchema = z.object({
  id: z.string(),
  messageId: z.string(),
  type: z.string(),
  text: z.string().optional(),
  tool: z.object({ name: z.string(), callId: z.string().nullable(), status: z.string(), title: z.string().nullable(), error: z.string().nullable() }).optional(),
});

export const SessionFeedSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('delta'), sessionId: z.string(), messageId: z.string(), partId: z.string(), field: z.string(), delta: z.string() }),
  z.object({ type: z.literal('part'), sessionId: z.string(), part: PartFeedSchema }),
  z.object({ type: z.literal('message'), sessionId: z.string(), messageId: z.string(), role: z.enum(['user', 'assistant']), completed: z.boolean() }),
  z.object({ type: z.literal('message.completed'), sessionId: z.string(), message: MessageRecordSchema }),
  z.object({ type: z.literal('session'), sessionId: z.string(), session: SessionViewSchema }),
  z.object({ type: z.literal('session.deleted'), sessionId: z.string() }),
]);
export type SessionFeedMessage = z.infer<typeof SessionFeedSchema>;

export const AttentionFeedSchema = z.object({ type: z.literal('attention'), session: SessionViewSchema });
export type AttentionFeedMessage = z.infer<typeof AttentionFeedSchema>;
