import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instanceStreamId } from '../../actors/opencode-instance/index.js';
import { injectGateway, type InjectedGateway } from './inject.js';

/**
 * Session calls through the route tier: the route finds the session, submits the instance
 * command and waits for its outcome in the log; the host alone says whether it applies. The
 * `opencode` here never says it listens: the instance is made running by observations, so the
 * host has no OpenCode server to call and the call fails the way an unreachable one does.
 */
interface ErrorBody {
  error: { code: string; message: string };
}

let gw: InjectedGateway;
const session = (id: string) => ({ session: { id, title: 't', directory: null, createdAt: 1, updatedAt: 1, tokens: null, cost: null } });

beforeAll(async () => {
  gw = await injectGateway();
  const bin = join(gw.dir, 'silent-opencode');
  writeFileSync(bin, '#!/bin/sh\nexec sleep 120\n');
  chmodSync(bin, 0o755);
  process.env.FLOW_OPENCODE_BIN = bin;
});

afterAll(async () => {
  await gw?.close();
  delete process.env.FLOW_OPENCODE_BIN;
});

describe('session calls through the route tier', () => {
  it('given a stopped instance, when a session is created or a message sent, then 409 with the host\'s reason, and nothing is written', async () => {
    expect((await gw.call('POST', '/api/instances', { directory: gw.dir, id: 'halted', start: false })).status).toBe(201);
    await gw.host.observe(instanceStreamId('halted'), 'SESSION_CREATED', session('ses_halted'));
    const before = gw.store.readStream(instanceStreamId('halted')).length;

    const create = await gw.call<ErrorBody>('POST', '/api/instances/halted/sessions', { title: 'x' });
    expect(create.status).toBe(409);
    expect(create.body.error.message).toBe('instance halted is stopped; start it first');
    const send = await gw.call<ErrorBody>('POST', '/api/sessions/ses_halted/messages', { text: 'hello?' });
    expect(send.status).toBe(409);
    expect(send.body.error.message).toBe('instance halted is stopped; start it first');
    for (const path of ['/api/sessions/ses_halted/abort']) expect((await gw.call('POST', path)).status).toBe(409);
    expect((await gw.call('DELETE', '/api/sessions/ses_halted')).status).toBe(409);
    expect(gw.store.readStream(instanceStreamId('halted')).length).toBe(before);
  });

  it('given input the command schema refuses, then 400 before any host sees it', async () => {
    const empty = await gw.call<ErrorBody>('POST', '/api/sessions/ses_halted/messages', { text: '  ' });
    expect(empty.status).toBe(400);
    expect(empty.body.error.message).toMatch(/needs some text/);
    expect((await gw.call('POST', '/api/sessions/ses_nothere/messages', { text: 'hi' })).status).toBe(404);
  });

  it('given a running instance whose OpenCode server this host cannot call, when a message is sent, then 502 with the reason, recorded as SESSION_CALL_FAILED', async () => {
    const dir = join(gw.dir, 'mute');
    mkdirSync(dir);
    expect((await gw.call('POST', '/api/instances', { directory: dir, id: 'mute' })).status).toBe(201);
    const stream = instanceStreamId('mute');
    await gw.host.observe(stream, 'READY', { url: 'http://127.0.0.1:9', version: null });
    await gw.host.observe(stream, 'SESSION_CREATED', session('ses_mute'));
    expect((await gw.call<{ status: string }>('GET', '/api/instances/mute')).body.status).toBe('running');

    const send = await gw.call<ErrorBody>('POST', '/api/sessions/ses_mute/messages', { text: 'hello' });
    expect(send.status).toBe(502);
    expect(send.body.error).toEqual({ code: 'bad_gateway', message: 'opencode: the instance mute is not running' });
    const log = gw.store.readStream(stream);
    const request = log.find((e) => e.type === 'MESSAGE_SEND_REQUESTED')!;
    expect(request.data).toMatchObject({ sessionId: 'ses_mute', text: 'hello', model: null });
    const failed = log.find((e) => e.type === 'SESSION_CALL_FAILED')!;
    expect(failed.data).toEqual({ callId: request.data.callId, request: 'MESSAGE_SEND_REQUESTED', sessionId: 'ses_mute', status: null, error: 'the instance mute is not running' });

    const create = await gw.call<ErrorBody>('POST', '/api/instances/mute/sessions', {});
    expect(create.status).toBe(502);
    // Reads that need the process: the message list falls back to the log and says so.
    const messages = await gw.call<{ source: string }>('GET', '/api/sessions/ses_mute/messages');
    expect(messages.body.source).toBe('log');
  });

  it('given a call about a permission that is not pending, then 404 from the route, and the host would refuse it too', async () => {
    const r = await gw.call<ErrorBody>('POST', '/api/sessions/ses_mute/permissions/per_none', { reply: 'once' });
    expect(r.status).toBe(404);
    expect(r.body.error.message).toMatch(/no pending permission per_none/);
  });
});
