import { SESSION_CALL_REQUESTS, type SessionCallRequest, type SessionInfo } from './events.js';

/**
 * What the machine judges of a session call (the request events of events.ts › sessionCallEvents):
 * the instance must be running, and a call about a session must name one it has, a reply one
 * of its pending requests. The call itself is the effect `callOpencode` (services/opencode/session-calls.ts).
 */
interface Sessions {
  sessions: Record<string, Pick<SessionInfo, 'id'> & { permissions: { id: string }[]; questions: { id: string }[] }>;
}

export function sessionCallApplies(context: Sessions, event: { type: string }): boolean {
  if (event.type === 'SESSION_CREATE_REQUESTED') return true;
  const e = event as { type: string; sessionId?: unknown; permissionId?: unknown; questionId?: unknown };
  const s = typeof e.sessionId === 'string' ? context.sessions[e.sessionId] : undefined;
  if (!s) return false;
  if (e.type === 'PERMISSION_REPLY_REQUESTED') return s.permissions.some((p) => p.id === e.permissionId);
  if (e.type === 'QUESTION_ANSWER_REQUESTED') return s.questions.some((q) => q.id === e.questionId);
  return true;
}

export function isSessionCall(request: string): request is SessionCallRequest {
  return (SESSION_CALL_REQUESTS as string[]).includes(request);
}

/** Why a session call does not apply, in a user's words (the host's 409). */
export function sessionCallRefusal(id: string, state: string, lastError: string | null): string {
  switch (state) {
    case 'running':
      return `instance ${id} has no such session, or what it answers is no longer pending`;
    case 'stopped':
      return `instance ${id} is stopped; start it first`;
    case 'error':
      return `instance ${id} is in error (${lastError?.split('\n')[0] ?? 'it failed'}); start it first`;
    case 'starting':
    case 'restarting':
      return `instance ${id} is ${state}; try again once it is running`;
    case 'crashed':
    case 'backoff':
      return `instance ${id} crashed and waits to be restarted; try again once it is running`;
    case 'interrupted':
      return `instance ${id} was interrupted (its host went away); it resumes when the host is back`;
    case 'removed':
      return `instance ${id} was removed`;
    default:
      return `instance ${id} is ${state === 'removing' ? 'being removed' : state}`;
  }
}
