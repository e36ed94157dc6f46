import { isSessionCall, sessionCallEvents, type InstanceContext, type SessionCallRequest } from '../../actors/opencode-instance/index.js';
import type { Effect, EffectContext } from '../host/effects.js';
import { OpencodeHttpError } from './client.js';
import { InstanceNotReadyError, type OpencodeRuntime } from './runtime.js';

/**
 * The effect `callOpencode`: the session call a request event asks for (the machine took it, so
 * the instance runs), made against the live OpenCode server of this host, its outcome recorded
 * in the instance stream as SESSION_CALL_SUCCEEDED or SESSION_CALL_FAILED with the request's
 * callId. What the call changes (a new session, a reply given) is recorded by the runtime as
 * before, ahead of the outcome, so whoever waits for the outcome reads a read model that has it.
 */
export function callOpencodeEffect(runtime: OpencodeRuntime, log: (line: string) => void): Effect {
  return (ctx: EffectContext, params: unknown) => {
    const type = (params as { type?: unknown } | undefined)?.type;
    if (typeof type !== 'string' || !isSessionCall(type)) return log(`${ctx.streamId}: callOpencode without a session call (${String(type)})`);
    const parsed = sessionCallEvents[type].safeParse(params);
    if (!parsed.success) return log(`${ctx.streamId}: callOpencode with a malformed ${type}: ${parsed.error.message}`);
    const request = { type, ...parsed.data } as Call;
    const instanceId = (ctx.snapshot.context as InstanceContext).id;
    const sessionId = 'sessionId' in request ? request.sessionId : null;
    perform(runtime, instanceId, request).then(
      (sid) => ctx.observe('SESSION_CALL_SUCCEEDED', { callId: request.callId, request: type, sessionId: sid }),
      (err: unknown) => ctx.observe('SESSION_CALL_FAILED', { callId: request.callId, request: type, sessionId, ...failure(err) }),
    );
  };
}

type Call = { [T in SessionCallRequest]: { type: T } & ReturnType<(typeof sessionCallEvents)[T]['parse']> }[SessionCallRequest];

/** The call; resolves with the session it was about. */
async function perform(runtime: OpencodeRuntime, instanceId: string, c: Call): Promise<string> {
  switch (c.type) {
    case 'SESSION_CREATE_REQUESTED':
      return (await runtime.createSession(instanceId, c.title ?? undefined)).id;
    case 'SESSION_DELETE_REQUESTED':
      await runtime.deleteSession(instanceId, c.sessionId);
      return c.sessionId;
    case 'MESSAGE_SEND_REQUESTED':
      await runtime.sendMessage(instanceId, c.sessionId, c.text, c.model ? { providerID: c.model.providerId, modelID: c.model.modelId } : undefined);
      return c.sessionId;
    case 'ABORT_REQUESTED':
      await runtime.abort(instanceId, c.sessionId);
      return c.sessionId;
    case 'PERMISSION_REPLY_REQUESTED':
      await runtime.replyPermission(instanceId, c.sessionId, c.permissionId, c.reply, c.message ?? undefined);
      return c.sessionId;
    case 'QUESTION_ANSWER_REQUESTED':
      await runtime.answerQuestion(instanceId, c.sessionId, c.questionId, c.answers === null ? { reject: true } : { answers: c.answers });
      return c.sessionId;
  }
}

/** What a failed call records: opencode's status (0 when it did not answer, null when no process of this host serves the instance) and the reason. */
function failure(err: unknown): { status: number | null; error: string } {
  if (err instanceof OpencodeHttpError) return { status: err.status, error: err.message };
  if (err instanceof InstanceNotReadyError) return { status: null, error: err.message };
  return { status: 0, error: err instanceof Error ? err.message : String(err) };
}
