import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { kindFor } from '../../actors/index.js';
import type { ActorKind } from '../../actors/kind.js';
import { tunnelKind, tunnelStreamId } from '../../actors/tunnel.js';
import { ActorProjector, readActor, readTimers } from '../../services/host/actor-projection.js';
import { fold, initialSnapshot, timerWork, toStored, type Snapshot, type TimerArm } from '../../services/host/fold.js';
import { RejectedCommandError, recordEvent } from '../../services/host/writer.js';
import { EventStore } from '../../services/store/event-store.js';

/**
 * Replay equals live, for the tunnel kind, through the real writer and store: any sequence of
 * commands, observations (current or stale pids and check ids) and waits (up to ~12 min, so
 * sleep/wake gaps happen), with durable timers fired as TIMER_FIRED when due. The live
 * snapshot, the fold of the stored log and the stored projection (snapshot and timers) agree.
 */
const kind = tunnelKind as unknown as ActorKind;
const ID = tunnelStreamId('p');
const relay = { url: 'http://relay.test/', username: 'bruno', tier: 'free' as const };
const URLS = ['https://a-b.trycloudflare.com', 'https://c-d.trycloudflare.com'];

type Step =
  | { t: 'cmd'; type: 'START_REQUESTED' | 'STOP_REQUESTED' | 'RESTART_REQUESTED' | 'REMOVE_REQUESTED' | 'HOST_RESUMED'; relay: boolean }
  | { t: 'started'; stale: boolean }
  | { t: 'url'; stale: boolean; which: number }
  | { t: 'exited'; stale: boolean; cause: 'exit' | 'host-lost' | 'host-shutdown'; rateLimited: boolean }
  | { t: 'spawnFailed'; permanent: boolean }
  | { t: 'health'; ok: boolean; stale: boolean }
  | { t: 'relay'; what: 'RELAY_ONLINE' | 'RELAY_FAILED' | 'RELAY_DISCONNECTED' }
  | { t: 'connected' }
  | { t: 'download'; what: 'DOWNLOAD_STARTED' | 'DOWNLOAD_PROGRESS' | 'DOWNLOADED' }
  | { t: 'wait'; ms: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ t: fc.constant('cmd' as const), type: fc.constantFrom('START_REQUESTED', 'STOP_REQUESTED', 'RESTART_REQUESTED', 'REMOVE_REQUESTED', 'HOST_RESUMED'), relay: fc.boolean() }),
  fc.record({ t: fc.constant('started' as const), stale: fc.boolean() }),
  fc.record({ t: fc.constant('url' as const), stale: fc.boolean(), which: fc.integer({ min: 0, max: 1 }) }),
  fc.record({ t: fc.constant('exited' as const), stale: fc.boolean(), cause: fc.constantFrom('exit', 'exit', 'host-lost', 'host-shutdown'), rateLimited: fc.boolean() }),
  fc.record({ t: fc.constant('spawnFailed' as const), permanent: fc.boolean() }),
  fc.record({ t: fc.constant('health' as const), ok: fc.boolean(), stale: fc.boolean() }),
  fc.record({ t: fc.constant('relay' as const), what: fc.constantFrom('RELAY_ONLINE', 'RELAY_FAILED', 'RELAY_DISCONNECTED') }),
  fc.record({ t: fc.constant('connected' as const) }),
  fc.record({ t: fc.constant('download' as const), what: fc.constantFrom('DOWNLOAD_STARTED', 'DOWNLOAD_PROGRESS', 'DOWNLOADED') }),
  fc.record({ t: fc.constant('wait' as const), ms: fc.oneof(fc.integer({ min: 0, max: 6_000 }), fc.integer({ min: 25_000, max: 35_000 }), fc.integer({ min: 60_000, max: 700_000 })) }),
);

describe('tunnel: replay equals live', () => {
  it('the live snapshot, the fold of the stored log and the projection agree', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 50 }), (steps) => {
        const store = EventStore.open(':memory:', { host: 'prop', projectors: [new ActorProjector(kindFor)], pollMs: 0 });
        try {
          let now = 1_700_000_000_000;
          let current: { snapshot: Snapshot; version: number } = { snapshot: initialSnapshot(kind), version: 0 };
          const timers = new Map<string, TimerArm>();
          let nextPid = 1000;
          const ctx = () => current.snapshot.context as { run: { pid: number } | null; health: { checkId: number } };
          const record = (type: string, data: Record<string, unknown>) => {
            try {
              const rec = recordEvent(store, kind, ID, current, { type, data, at: now });
              current = { snapshot: rec.snapshot, version: rec.envelope.version };
              const work = timerWork(rec.actions, now);
              for (const id of work.cancel) timers.delete(id);
              for (const t of work.arm) timers.set(t.timerId, t);
            } catch (err) {
              if (!(err instanceof RejectedCommandError)) throw err;
            }
          };
          for (const s of steps) {
            const pid = ctx().run?.pid ?? nextPid;
            switch (s.t) {
              case 'wait': {
                const end = now + s.ms;
                for (;;) {
                  const due = [...timers.values()].filter((t) => t.dueAt <= end).sort((a, b) => a.dueAt - b.dueAt)[0];
                  if (!due) break;
                  // Long waits fire late (the machine slept): at the end, not at the due time.
                  now = s.ms > 60_000 ? end : Math.max(now, due.dueAt);
                  timers.delete(due.timerId);
                  record('TIMER_FIRED', { timerId: due.timerId, event: due.event });
                }
                now = end;
                break;
              }
              case 'cmd':
                record(s.type, s.type === 'START_REQUESTED' ? { name: 'p', port: 3000, command: null, relay: s.relay ? relay : null } : {});
                break;
              case 'started':
                nextPid += 1;
                record('PROCESS_STARTED', { pid: s.stale ? nextPid + 500 : nextPid, startTicks: nextPid });
                break;
              case 'url':
                record('URL_ANNOUNCED', { pid: s.stale ? pid + 1 : pid, url: URLS[s.which] });
                break;
              case 'exited':
                record('PROCESS_EXITED', { pid: s.stale ? pid + 1 : pid, code: null, signal: 'SIGTERM', cause: s.cause, rateLimited: s.rateLimited, lastStderr: '' });
                break;
              case 'spawnFailed':
                record('SPAWN_FAILED', { error: 'boom', permanent: s.permanent });
                break;
              case 'health': {
                const checkId = ctx().health.checkId - (s.stale ? 1 : 0);
                record(s.ok ? 'HEALTH_OK' : 'HEALTH_FAILED', s.ok ? { checkId, status: 200 } : { checkId, error: 'ECONNREFUSED', status: null });
                break;
              }
              case 'relay':
                record(s.what, s.what === 'RELAY_ONLINE' ? { handleUrl: 'http://bruno.my.relay.test/', tunnelUrl: URLS[0] } : s.what === 'RELAY_FAILED' ? { stage: 'heartbeat', error: 'x' } : {});
                break;
              case 'connected':
                record('TUNNEL_CONNECTED', { pid, location: 'sjc07', protocol: 'quic', connIndex: 0 });
                break;
              case 'download':
                record(
                  s.what,
                  s.what === 'DOWNLOAD_STARTED'
                    ? { program: 'cloudflared', version: '2026.8.2', url: 'http://127.0.0.1:9/cfd', totalBytes: 100 }
                    : s.what === 'DOWNLOAD_PROGRESS'
                      ? { receivedBytes: 50, totalBytes: 100 }
                      : { program: 'cloudflared', version: '2026.8.2', path: '/h/bin/cloudflared', bytes: 100, sha256: 'ab' },
                );
                break;
            }
          }
          const log = store.readStream(ID);
          const folded = fold(kind, log);
          expect(folded.value).toEqual(current.snapshot.value);
          expect(folded.context).toEqual(current.snapshot.context);
          if (log.length > 0) {
            const row = readActor(store.db, ID)!;
            expect(row.snapshot).toEqual(JSON.parse(JSON.stringify(toStored(folded))));
            expect(row.status).toBe(kind.status(folded as never));
          }
          const stored = readTimers(store.db).map((t) => [t.timerId, t.dueAt]);
          expect(stored.sort()).toEqual([...timers.values()].map((t) => [t.timerId, t.dueAt]).sort());
        } finally {
          store.close();
        }
      }),
      { numRuns: 150 },
    );
  });
});
