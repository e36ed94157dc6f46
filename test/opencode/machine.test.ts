import { describe, expect, it } from 'vitest';
import { opencodeInstanceKind as kind, instanceState, sessionStatus, type InstanceContext, type InstanceSnapshot } from '../../actors/opencode-instance/index.js';
import type { ActorKind } from '../../actors/kind.js';
import { fold, initialSnapshot, step, type ActionLike, type Snapshot } from '../../actors/fold.js';

/** The opencode-instance machine as a pure decider: events in, state and named effects out. */
const k = kind as unknown as ActorKind;
let clock = 1_000;
type E = { type: string; data?: Record<string, unknown> };
const ev = (e: E) => ({ type: e.type, data: k.events[e.type]!.parse(e.data ?? {}), at: new Date((clock += 10)).toISOString() });

function run(events: E[], from?: Snapshot): { snap: Snapshot; actions: ActionLike[] } {
  let snap = from ?? initialSnapshot(k);
  let actions: ActionLike[] = [];
  for (const e of events) [snap, actions] = step(k, snap, ev(e));
  return { snap, actions };
}
const ctx = (s: Snapshot) => s.context as InstanceContext;
const effects = (actions: ActionLike[]) => actions.map((a) => a.type).filter((t) => !t.startsWith('xstate.'));

const created = { type: 'CREATED', data: { id: 'a', directory: '/w/a', autostart: true, startTimeoutMs: 5000 } };
const spawned = (pid = 100) => ({ type: 'SPAWNED', data: { pid, startTicks: 7, port: 4100, bin: '/bin/opencode' } });
const ready = { type: 'READY', data: { url: 'http://127.0.0.1:4100', version: '1.18.33' } };
const session = (id = 'ses_1') => ({ type: 'SESSION_CREATED', data: { session: { id, title: 't', directory: '/w/a', createdAt: 1, updatedAt: 1, tokens: null, cost: null } } });
const exited = (data: Record<string, unknown>) => ({ type: 'PROCESS_EXITED', data: { pid: 100, code: null, signal: null, cause: 'exit', ...data } });

describe('opencode-instance machine', () => {
  it('starts: spawn, record the process, become running when ready (and the start timer is cancelled)', () => {
    const a = run([created]);
    expect(a.snap.value).toBe('starting');
    expect(effects(a.actions)).toEqual(['spawnProcess']);
    expect(a.actions.some((x) => x.type === 'xstate.raise')).toBe(true);
    const b = run([spawned(), ready], a.snap);
    expect(b.snap.value).toEqual({ running: 'healthy' });
    expect(instanceState(b.snap as InstanceSnapshot)).toBe('running');
    expect(ctx(b.snap).run?.pid).toBe(100);
    expect(ctx(b.snap).url).toBe('http://127.0.0.1:4100');
    expect(b.actions.some((x) => x.type === 'xstate.cancel')).toBe(true);
  });

  it('a taken port is retried on another, three times, then it is an error with the output tail', () => {
    let s = run([created, spawned()]).snap;
    for (let i = 0; i < 3; i++) {
      const r = run([exited({ code: 1, portTaken: true, tail: ['ServeError'] }), spawned()], s);
      expect(r.snap.value).toBe('starting');
      s = r.snap;
    }
    const last = run([exited({ code: 1, portTaken: true, tail: ['Error: Unexpected error', 'ServeError'] })], s);
    expect(last.snap.value).toBe('error');
    expect(ctx(last.snap).lastError).toContain('ServeError');
    expect(ctx(last.snap).lastExit?.code).toBe(1);
  });

  it('a start timeout is an error and kills what was spawned; its later exit is still recorded', () => {
    const s = run([created, spawned()]).snap;
    const t = run([{ type: 'TIMER_FIRED', data: { timerId: 'x', event: { type: 'xstate.after.startTimeout.opencode-instance.starting' } } }], s);
    expect(t.snap.value).toBe('error');
    expect(effects(t.actions)).toEqual(['killProcess']);
    expect(ctx(t.snap).lastError).toMatch(/did not become ready within 5000 ms/);
    const e = run([exited({ signal: 'SIGKILL', cause: 'stopped' })], t.snap);
    expect(e.snap.value).toBe('error');
    expect(ctx(e.snap).run).toBeNull();
  });

  it('a crash is recorded with the exit, its busy sessions become interrupted, and it restarts after a backoff', () => {
    const s = run([created, spawned(), ready, session('ses_1'), session('ses_2'), { type: 'SESSION_STATUS', data: { sessionId: 'ses_1', status: 'busy' } }]).snap;
    const r = run([exited({ signal: 'SIGKILL', tail: ['last words'] })], s);
    expect(r.snap.value).toBe('backoff');
    expect(ctx(r.snap).lastExit).toMatchObject({ signal: 'SIGKILL', cause: 'exit', tail: ['last words'] });
    expect(ctx(r.snap).lastError).toContain('SIGKILL');
    expect(ctx(r.snap).sessions.ses_1!.state).toBe('interrupted');
    expect(ctx(r.snap).sessions.ses_2!.state).toBe('idle');
    // opencode says idle after a restart: the interruption is kept until a new turn runs.
    const after = run([{ type: 'SESSION_STATUS', data: { sessionId: 'ses_1', status: 'idle' } }], r.snap);
    expect(ctx(after.snap).sessions.ses_1!.state).toBe('interrupted');
    const next = run([{ type: 'SESSION_STATUS', data: { sessionId: 'ses_1', status: 'busy' } }], after.snap);
    expect(ctx(next.snap).sessions.ses_1!.state).toBe('busy');
  });

  it('a Flow that died: the orphan reported as host-lost leaves the instance interrupted, to be started again', () => {
    const s = run([created, spawned(), ready, session(), { type: 'SESSION_STATUS', data: { sessionId: 'ses_1', status: 'busy' } }]).snap;
    const r = run([exited({ cause: 'host-lost', signal: 'SIGTERM' })], s);
    expect(r.snap.value).toBe('interrupted');
    expect(ctx(r.snap).sessions.ses_1!.state).toBe('interrupted');
  });

  it('stop: dispose-then-signal effect, stopped on the exit; start again; commands that do not apply are refused', () => {
    const s = run([created, spawned(), ready]).snap;
    expect(s.can({ type: 'START_REQUESTED', at: 0 } as never)).toBe(false);
    const st = run([{ type: 'STOP_REQUESTED' }], s);
    expect(st.snap.value).toBe('stopping');
    expect(effects(st.actions)).toEqual(['stopProcess']);
    const done = run([exited({ cause: 'stopped', signal: 'SIGTERM' })], st.snap);
    expect(done.snap.value).toBe('stopped');
    const again = run([{ type: 'START_REQUESTED' }], done.snap);
    expect(again.snap.value).toBe('starting');
    expect(effects(again.actions)).toEqual(['spawnProcess']);
  });

  it('attention is derived from pending permissions and questions, across status changes', () => {
    const s = run([created, spawned(), ready, session(), { type: 'SESSION_STATUS', data: { sessionId: 'ses_1', status: 'busy' } }]).snap;
    const asked = run([{ type: 'PERMISSION_ASKED', data: { permission: { id: 'per_1', sessionId: 'ses_1', permission: 'bash', patterns: ['echo hi'], detail: 'echo hi' } } }], s);
    expect(sessionStatus(ctx(asked.snap).sessions.ses_1!)).toBe('needs-attention');
    const q = run([{ type: 'QUESTION_ASKED', data: { question: { id: 'que_1', sessionId: 'ses_1', questions: [{ question: 'Which?', header: null, options: [], multiple: false }] } } }, { type: 'PERMISSION_REPLIED', data: { sessionId: 'ses_1', requestId: 'per_1', reply: 'once' } }], asked.snap);
    expect(sessionStatus(ctx(q.snap).sessions.ses_1!)).toBe('needs-attention');
    const a = run([{ type: 'QUESTION_ANSWERED', data: { sessionId: 'ses_1', requestId: 'que_1', outcome: 'replied' } }], q.snap);
    expect(sessionStatus(ctx(a.snap).sessions.ses_1!)).toBe('busy');
  });

  it('an abort is remembered but is not an error; another failure is, until the next turn', () => {
    const s = run([created, spawned(), ready, session(), { type: 'SESSION_STATUS', data: { sessionId: 'ses_1', status: 'busy' } }]).snap;
    const aborted = run([{ type: 'SESSION_ERROR', data: { sessionId: 'ses_1', error: { name: 'MessageAbortedError', message: 'Aborted' } } }, { type: 'SESSION_STATUS', data: { sessionId: 'ses_1', status: 'idle' } }], s);
    expect(ctx(aborted.snap).sessions.ses_1).toMatchObject({ state: 'idle', lastError: { name: 'MessageAbortedError' } });
    const failed = run([{ type: 'SESSION_STATUS', data: { sessionId: 'ses_1', status: 'busy' } }, { type: 'SESSION_ERROR', data: { sessionId: 'ses_1', error: { name: 'APIError', message: 'model down' } } }, { type: 'SESSION_STATUS', data: { sessionId: 'ses_1', status: 'idle' } }], aborted.snap);
    expect(ctx(failed.snap).sessions.ses_1).toMatchObject({ state: 'error', detail: 'model down' });
  });

  it('a re-sync keeps what Flow knows, adds sessions it missed and settles statuses and requests', () => {
    const s = run([created, spawned(), ready, session('ses_1'), { type: 'SESSION_STATUS', data: { sessionId: 'ses_1', status: 'busy' } }]).snap;
    const r = run(
      [
        {
          type: 'SESSIONS_SYNCED',
          data: {
            sessions: [
              { id: 'ses_1', title: 'renamed', directory: '/w/a', createdAt: 1, updatedAt: 5, tokens: null, cost: 0.5 },
              { id: 'ses_2', title: 'missed', directory: '/w/a', createdAt: 2, updatedAt: 2, tokens: null, cost: null },
            ],
            busy: [{ sessionId: 'ses_2', status: 'busy', detail: null }],
            permissions: [{ id: 'per_9', sessionId: 'ses_2', permission: 'edit', patterns: [], detail: null }],
            questions: [],
          },
        },
      ],
      s,
    );
    const c = ctx(r.snap);
    expect(c.sessions.ses_1).toMatchObject({ title: 'renamed', state: 'idle', cost: 0.5 });
    expect(sessionStatus(c.sessions.ses_2!)).toBe('needs-attention');
  });

  it('replay equals live: folding the stored events gives the same snapshot', () => {
    const events = [created, spawned(), ready, session(), { type: 'SESSION_STATUS', data: { sessionId: 'ses_1', status: 'busy' } }, exited({ signal: 'SIGKILL' }), { type: 'START_REQUESTED' }].map(ev);
    let live = initialSnapshot(k);
    for (const e of events) live = step(k, live, e)[0];
    const folded = fold(k, events);
    expect(folded.value).toEqual(live.value);
    expect(folded.context).toEqual(live.context);
  });
});
