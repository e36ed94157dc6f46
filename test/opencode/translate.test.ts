import { describe, expect, it } from 'vitest';
import { opencodeInstanceKind as kind, type InstanceContext } from '../../actors/opencode-instance/index.js';
import type { ActorKind } from '../../actors/kind.js';
import { initialSnapshot, step, type Snapshot } from '../../actors/fold.js';
import type { SessionFeedMessage } from '../../services/opencode/feed.js';
import { EventTranslator } from '../../services/opencode/translate.js';

/**
 * opencode's events (the sequence reference/opencode.md §5.2 recorded, trimmed) in, Flow's out:
 * durable facts only when they change something, deltas live and in order, final text once.
 */
const k = kind as unknown as ActorKind;
const S = 'ses_1';
const A = 'msg_a';

function harness() {
  let snap: Snapshot = initialSnapshot(k);
  let at = 0;
  const observed: { type: string; data: Record<string, unknown> }[] = [];
  const published: SessionFeedMessage[] = [];
  const apply = (type: string, data: Record<string, unknown>) => {
    observed.push({ type, data });
    snap = step(k, snap, { type, data: k.events[type]!.parse(data) as Record<string, unknown>, at: new Date(++at).toISOString() })[0];
  };
  apply('CREATED', { id: 'a', directory: '/w', autostart: false, startTimeoutMs: 1000 });
  observed.length = 0;
  const t = new EventTranslator({
    context: () => snap.context as InstanceContext,
    observe: apply,
    publish: (m) => published.push(m),
    fetchMessage: () => Promise.reject(new Error('not expected')),
    log: () => {},
  });
  const send = (type: string, properties: Record<string, unknown>) => t.handle({ type, properties });
  return { send, observed, published, ctx: () => snap.context as InstanceContext };
}

const sessionInfo = (extra: Record<string, unknown> = {}) => ({ id: S, title: 'probe', directory: '/w', cost: 0, tokens: { input: 0, output: 0, reasoning: 0, cache: { read: 0, write: 0 } }, time: { created: 1, updated: 1 }, ...extra });

describe('EventTranslator', () => {
  it('records a turn as few durable facts, streams its deltas live, and keeps the final text', () => {
    const h = harness();
    h.send('session.created', { sessionID: S, info: sessionInfo() });
    h.send('session.updated', { sessionID: S, info: sessionInfo({ time: { created: 1, updated: 2 } }) });
    h.send('message.updated', { sessionID: S, info: { id: 'msg_u', sessionID: S, role: 'user', time: { created: 3 } } });
    h.send('message.part.updated', { sessionID: S, part: { id: 'prt_u', messageID: 'msg_u', sessionID: S, type: 'text', text: 'say hi' } });
    for (let i = 0; i < 3; i++) h.send('session.status', { sessionID: S, status: { type: 'busy' } });
    h.send('message.updated', { sessionID: S, info: { id: A, sessionID: S, role: 'assistant', time: { created: 4 } } });
    h.send('message.part.updated', { sessionID: S, part: { id: 'prt_t', messageID: A, sessionID: S, type: 'text', text: '' } });
    for (const d of ['Hello', ' from', ' the', ' stub', ' model.']) h.send('message.part.delta', { sessionID: S, messageID: A, partID: 'prt_t', field: 'text', delta: d });
    h.send('message.part.updated', { sessionID: S, part: { id: 'prt_t', messageID: A, sessionID: S, type: 'text', text: 'Hello from the stub model.' } });
    const done = { id: A, sessionID: S, role: 'assistant', time: { created: 4, completed: 5 }, finish: 'stop', cost: 0, tokens: { input: 5, output: 5, reasoning: 0, cache: { read: 0, write: 0 } } };
    h.send('message.updated', { sessionID: S, info: done });
    h.send('message.updated', { sessionID: S, info: done });
    h.send('session.status', { sessionID: S, status: { type: 'idle' } });
    h.send('session.idle', { sessionID: S });
    h.send('session.updated', { sessionID: S, info: sessionInfo({ tokens: { input: 10, output: 10, reasoning: 0, cache: { read: 0, write: 0 } } }) });

    expect(h.observed.map((o) => o.type)).toEqual(['SESSION_CREATED', 'MESSAGE_COMPLETED', 'SESSION_STATUS', 'MESSAGE_COMPLETED', 'SESSION_STATUS', 'SESSION_UPDATED']);
    const texts = h.observed.filter((o) => o.type === 'MESSAGE_COMPLETED').map((o) => (o.data.message as { role: string; text: string }).text);
    expect(texts).toEqual(['say hi', 'Hello from the stub model.']);
    expect(h.published.filter((m) => m.type === 'delta').map((m) => (m as { delta: string }).delta)).toEqual(['Hello', ' from', ' the', ' stub', ' model.']);
    const s = h.ctx().sessions[S]!;
    expect(s).toMatchObject({ state: 'idle', messages: 2, tokens: { input: 10, output: 10 } });
  });

  it('turns permission and question events into attention, once each, and ignores unknown sessions', () => {
    const h = harness();
    h.send('session.created', { sessionID: S, info: sessionInfo() });
    const asked = { id: 'per_1', sessionID: S, permission: 'bash', patterns: ['echo hi'], metadata: { command: 'echo hi' }, always: ['echo *'] };
    h.send('permission.asked', asked);
    h.send('permission.asked', asked);
    h.send('permission.asked', { ...asked, id: 'per_2', sessionID: 'ses_other' });
    expect(h.ctx().sessions[S]!.permissions).toEqual([{ id: 'per_1', sessionId: S, permission: 'bash', patterns: ['echo hi'], detail: 'echo hi' }]);
    h.send('permission.replied', { sessionID: S, requestID: 'per_1', reply: 'once' });
    h.send('question.asked', { id: 'que_1', sessionID: S, questions: [{ question: 'Which color?', header: 'Color', options: [{ label: 'Red', description: 'warm' }] }] });
    h.send('question.rejected', { sessionID: S, requestID: 'que_1' });
    expect(h.observed.map((o) => o.type)).toEqual(['SESSION_CREATED', 'PERMISSION_ASKED', 'PERMISSION_REPLIED', 'QUESTION_ASKED', 'QUESTION_ANSWERED']);
    expect(h.ctx().sessions[S]!.questions).toEqual([]);
  });
});
