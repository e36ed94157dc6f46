import { describe, expect, it } from 'vitest';
import { opencodeInstanceKind as kind } from '../../actors/opencode-instance/index.js';
import { given } from '../support/given.js';

/**
 * Session calls are instance commands: the host takes them only while the instance runs, and
 * asks services/opencode for the call (the effect callOpencode, with the request as its params).
 */
const create = { type: 'opencode.create', id: 'alpha', directory: '/w/alpha', autostart: true, startTimeoutMs: 5000 };
const info = (id: string) => ({ id, title: 't', directory: '/w/alpha', createdAt: 1, updatedAt: 1, tokens: null, cost: null });
const running = [
  create,
  { type: 'SPAWNED', pid: 100, startTicks: 7, spawnId: null, port: 4100, bin: '/bin/opencode' },
  { type: 'READY', url: 'http://127.0.0.1:4100', version: '1.0.0' },
  { type: 'SESSION_CREATED', session: info('ses_1') },
];
const permission = { id: 'per_1', sessionId: 'ses_1', permission: 'bash', patterns: ['*'], detail: 'echo hi' };
const send = { type: 'opencode.session.send', id: 'alpha', callId: 'c1', sessionId: 'ses_1', text: 'say hi' };

describe('session calls on an opencode instance', () => {
  it('given a running instance, when a session is created, then it asks for the call with the call id, and stays running', () => {
    const host = given(kind, running).when({ type: 'opencode.session.create', id: 'alpha', callId: 'c0', title: 'chat' }).then({ state: 'running', effects: ['callOpencode'] });
    expect(host.log.at(-1)).toMatchObject({ type: 'SESSION_CREATE_REQUESTED', data: { callId: 'c0', title: 'chat' } });
  });

  it('given a running instance with a session, when a message is sent, then callOpencode gets the request as its params', () => {
    const g = given(kind, running);
    g.when(send).then({ state: 'running' });
    expect(g.host.log.at(-1)).toMatchObject({ type: 'MESSAGE_SEND_REQUESTED', data: { callId: 'c1', sessionId: 'ses_1', text: 'say hi', model: null } });
  });

  it('the effect is handed the request event itself', () => {
    const g = given(kind, running);
    g.host.takeEffects();
    g.host.command(send);
    const [effect] = g.host.effects;
    expect(effect).toMatchObject({ type: 'callOpencode', params: { type: 'MESSAGE_SEND_REQUESTED', callId: 'c1', sessionId: 'ses_1', text: 'say hi' } });
  });

  it('given a running instance, abort, delete and the replies to what is pending are taken', () => {
    const withAsk = [...running, { type: 'PERMISSION_ASKED', permission }];
    given(kind, withAsk).when({ type: 'opencode.session.abort', id: 'alpha', callId: 'c2', sessionId: 'ses_1' }).then({ state: 'running', effects: ['callOpencode'] });
    given(kind, withAsk).when({ type: 'opencode.session.delete', id: 'alpha', callId: 'c3', sessionId: 'ses_1' }).then({ effects: ['callOpencode'] });
    given(kind, withAsk).when({ type: 'opencode.permission.reply', id: 'alpha', callId: 'c4', sessionId: 'ses_1', permissionId: 'per_1', reply: 'once' }).then({ effects: ['callOpencode'] });
  });

  it('given a stopped instance, when a message is sent, then it is refused: "instance alpha is stopped; start it first"', () => {
    const g = given(kind, [...running, { type: 'opencode.stop', id: 'alpha' }, { type: 'PROCESS_EXITED', pid: 100, code: 0, signal: null, cause: 'stopped' }]);
    expect(g.host.state).toBe('stopped');
    g.when(send).thenRejected('instance alpha is stopped; start it first');
    expect(g.host.log.map((e) => e.type)).not.toContain('MESSAGE_SEND_REQUESTED');
  });

  it('given a starting instance, when a session is created, then it is refused until it runs', () => {
    given(kind, [create]).when({ type: 'opencode.session.create', id: 'alpha', callId: 'c5' }).thenRejected('instance alpha is starting; try again once it is running');
  });

  it('given a crashed instance that gave up restarting, when a message is sent, then it is refused with why it failed', () => {
    const once = { ...create, restart: { maxRestarts: 0, backoffUnitMs: 0, stableAfterMs: 1000 } };
    const g = given(kind, [once, ...running.slice(1), { type: 'PROCESS_EXITED', pid: 100, code: null, signal: 'SIGKILL', cause: 'exit' }]);
    expect(g.host.state).toBe('error');
    g.when(send).thenRejected(/^instance alpha is in error \(opencode was killed by SIGKILL\); start it first$/);
  });

  it('given a crashed instance that restarts on its own, when a message is sent, then it is refused until it runs again', () => {
    const g = given(kind, [...running, { type: 'PROCESS_EXITED', pid: 100, code: null, signal: 'SIGKILL', cause: 'exit' }]);
    expect(g.host.state).not.toBe('running');
    g.when(send).thenRejected('instance alpha crashed and waits to be restarted; try again once it is running');
  });

  it('given a running instance, when a call names a session or a permission it does not have, then it is refused', () => {
    given(kind, running).when({ ...send, sessionId: 'ses_other' }).thenRejected('instance alpha has no such session, or what it answers is no longer pending');
    given(kind, running).when({ type: 'opencode.permission.reply', id: 'alpha', callId: 'c6', sessionId: 'ses_1', permissionId: 'per_gone', reply: 'once' }).thenRejected(/no longer pending/);
  });

  it('outcomes are facts: recorded in any state, and they change nothing the snapshot holds', () => {
    const g = given(kind, running);
    const before = JSON.stringify(g.host.context);
    g.when({ type: 'SESSION_CALL_SUCCEEDED', callId: 'c1', request: 'MESSAGE_SEND_REQUESTED', sessionId: 'ses_1' }).then({ state: 'running', effects: [] });
    g.when({ type: 'SESSION_CALL_FAILED', callId: 'c7', request: 'ABORT_REQUESTED', sessionId: 'ses_1', status: 500, error: 'boom' }).then({ state: 'running', effects: [] });
    expect(JSON.stringify(g.host.context)).toBe(before);
  });
});
