import { randomUUID } from 'node:crypto';
import { instanceStreamId, type SessionCallCommand } from '../../../actors/opencode-instance/index.js';
import type { Command } from '../../../actors/index.js';
import type { EventEnvelope } from '../../../services/store/envelope.js';
import type { GatewayContext } from '../../context.js';
import { ApiError } from '../../errors.js';
import type { RouteResponses } from '../../openapi.js';

/**
 * A session call through the host, from any gateway: the command goes to the host that owns the
 * instance (in-process, or BullMQ to `f host`), which judges it (409 unless the instance runs)
 * and, once it is stored, has OpenCode do it; the outcome comes back as an event of the instance
 * stream with this call's id, which the gateway waits for in its copy of the log.
 */
export const CALL_TIMEOUT_MS = 30_000;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type SessionCall = DistributiveOmit<SessionCallCommand, 'callId'>;

/** What a session call route can answer besides its success. */
export const SESSION_CALL_RESPONSES: RouteResponses = {
  409: 'the instance is not running (the host said so), or the session or request it names is not pending there',
  502: 'its OpenCode server failed or did not answer',
  503: 'no host took the command',
  504: 'the host did not report the outcome in time; the call may still have happened',
};

export async function callThroughHost(ctx: GatewayContext, call: SessionCall, timeoutMs = CALL_TIMEOUT_MS): Promise<{ sessionId: string }> {
  const callId = randomUUID();
  const streamId = instanceStreamId(call.id);
  let settle!: (e: EventEnvelope | 'exited' | 'timeout') => void;
  const outcome = new Promise<EventEnvelope | 'exited' | 'timeout'>((resolve) => (settle = resolve));
  // Subscribed before the command is sent: its outcome cannot be missed.
  const sub = ctx.deps.log.subscribe({ filter: { streamType: 'opencode-instance' } }, (e) => {
    if ((e.type === 'SESSION_CALL_SUCCEEDED' || e.type === 'SESSION_CALL_FAILED') && e.data.callId === callId) settle(e);
    else if (e.type === 'PROCESS_EXITED' && e.streamId === streamId) settle('exited');
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = await ctx.deps.commands.submit({ ...call, callId } as Command, { by: 'api' });
    if (!result.ok) throw ApiError.fromCommand(result);
    timer = setTimeout(() => settle('timeout'), timeoutMs);
    const e = await outcome;
    if (e === 'timeout') throw new ApiError(504, 'timeout', `the host of instance ${call.id} took the call but did not report its outcome within ${timeoutMs / 1000} s; it may still have happened`);
    if (e === 'exited') throw ApiError.badGateway(`the OpenCode server of instance ${call.id} exited before the call finished`);
    if (e.type === 'SESSION_CALL_FAILED') throw failureError(e.data as { status: number | null; error: string });
    return { sessionId: String(e.data.sessionId) };
  } finally {
    if (timer) clearTimeout(timer);
    sub.close();
  }
}

/** opencode's refusals keep their meaning (404, 400, 409); anything else is a bad gateway with opencode's reason. */
function failureError(f: { status: number | null; error: string }): ApiError {
  const message = `opencode: ${f.error}`;
  if (f.status === 404) return ApiError.notFound(message);
  if (f.status === 400) return ApiError.invalid(message);
  if (f.status === 409) return ApiError.conflict(message);
  return ApiError.badGateway(message);
}
