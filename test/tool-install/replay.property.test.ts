import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createActor } from 'xstate';
import { kindFor } from '../../actors/index.js';
import type { ActorKind } from '../../actors/kind.js';
import { toolInstallKind, toolInstallMachine, toolInstallStreamId, type ToolInstallContext } from '../../actors/tool-install/index.js';
import { fold, initialSnapshot, toStored, type Snapshot } from '../../actors/fold.js';
import { RejectedCommandError, recordEvent } from '../../services/host/writer.js';
import { EventStore } from '../../services/store/event-store.js';
import { ActorProjector, readActor } from '../../services/store/projections.js';

/**
 * Replay equals live, for tool-install now that it decides, through the real writer and store:
 * any sequence of install requests, proposed registrations (some refused by the machine), what
 * the file work reports (as decided, or anything else), uninstalls, FOUND and download steps. The
 * live XState actor fed the accepted events, the writer's snapshot, the fold of the stored log and
 * the stored projection agree.
 */
const kind = toolInstallKind as unknown as ActorKind;
const ID = toolInstallStreamId('echo', 'prop');
const IIDS = ['cli_01jv8n0000000000000000000a', 'cli_01jv8n0000000000000000000b'];
const ROOTS = ['/a', '/b'];
const SHA = 'a'.repeat(64);
const ref = (i: number) => (i === 2 ? { kind: 'link' as const, installId: null } : { kind: 'remote' as const, installId: IIDS[i]! });

type Step =
  | { t: 'install'; remote: boolean; which: number; force: boolean }
  | { t: 'manifest' }
  | { t: 'propose'; remote: boolean; which: number; force: boolean; replaces: number[]; rebuild: boolean }
  | { t: 'registered'; asDecided: boolean; remote: boolean; which: number; active: boolean }
  | { t: 'failed' }
  | { t: 'uninstall' }
  | { t: 'uninstalled'; removed: number[] }
  | { t: 'found'; regs: { remote: boolean; which: number; active: boolean }[] }
  | { t: 'download'; what: 'DOWNLOAD_STARTED' | 'DOWNLOAD_PROGRESS' | 'DOWNLOADED' | 'CHECKSUM_VERIFIED' | 'EXTRACTED' | 'BUILT' }
  | { t: 'wait'; ms: number };

const which = fc.integer({ min: 0, max: 1 });
const refs = fc.uniqueArray(fc.integer({ min: 0, max: 2 }), { maxLength: 2 });
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ t: fc.constant('install' as const), remote: fc.boolean(), which, force: fc.boolean() }),
  fc.record({ t: fc.constant('manifest' as const) }),
  fc.record({ t: fc.constant('propose' as const), remote: fc.boolean(), which, force: fc.boolean(), replaces: refs, rebuild: fc.boolean() }),
  fc.record({ t: fc.constant('propose' as const), remote: fc.boolean(), which, force: fc.boolean(), replaces: refs, rebuild: fc.boolean() }),
  fc.record({ t: fc.constant('registered' as const), asDecided: fc.boolean(), remote: fc.boolean(), which, active: fc.boolean() }),
  fc.record({ t: fc.constant('failed' as const) }),
  fc.record({ t: fc.constant('uninstall' as const) }),
  fc.record({ t: fc.constant('uninstalled' as const), removed: refs }),
  fc.record({ t: fc.constant('found' as const), regs: fc.array(fc.record({ remote: fc.boolean(), which, active: fc.boolean() }), { maxLength: 2 }) }),
  fc.record({ t: fc.constant('download' as const), what: fc.constantFrom('DOWNLOAD_STARTED', 'DOWNLOAD_PROGRESS', 'DOWNLOADED', 'CHECKSUM_VERIFIED', 'EXTRACTED', 'BUILT') }),
  fc.record({ t: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 120_000 }) }),
);

function registration(remote: boolean, i: number) {
  return remote
    ? { kind: 'remote' as const, installId: IIDS[i]!, sourceRoot: `/installs/${IIDS[i]}/bundle`, manifestPath: `/installs/${IIDS[i]}/manifest.toml`, version: '1.0.0', installedAt: `2026-01-0${i + 1}T00:00:00Z` }
    : { kind: 'link' as const, installId: null, sourceRoot: ROOTS[i]!, manifestPath: `${ROOTS[i]}/flow-tool.toml`, version: null, installedAt: `2026-01-0${i + 1}T00:00:00Z` };
}

const downloads: Record<string, Record<string, unknown>> = {
  DOWNLOAD_STARTED: { url: 'http://c/x.tgz', totalBytes: 100 },
  DOWNLOAD_PROGRESS: { receivedBytes: 50, totalBytes: 100 },
  DOWNLOADED: { bytes: 100 },
  CHECKSUM_VERIFIED: { sha256: SHA },
  EXTRACTED: { entries: 3, bytes: 300 },
  BUILT: { cacheKey: 'k', output: '/cache/x' },
};

describe('tool-install: replay equals live', () => {
  it('the live actor, the writer’s snapshot, the fold of the stored log and the projection agree', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 40 }), (steps) => {
        const store = EventStore.open(':memory:', { host: 'prop', projectors: [new ActorProjector(kindFor)], pollMs: 0 });
        const live = createActor(toolInstallMachine).start();
        try {
          let now = 1_700_000_000_000;
          let current: { snapshot: Snapshot; version: number } = { snapshot: initialSnapshot(kind), version: 0 };
          let refused = 0;
          const context = () => current.snapshot.context as ToolInstallContext;
          const record = (type: string, data: Record<string, unknown>) => {
            try {
              const rec = recordEvent(store, kind, ID, current, { type, data, at: now });
              current = { snapshot: rec.snapshot, version: rec.envelope.version };
              live.send({ ...data, type, at: now } as never);
            } catch (err) {
              if (!(err instanceof RejectedCommandError)) throw err;
              refused += 1;
            }
          };
          for (const s of steps) {
            now += 1000;
            switch (s.t) {
              case 'wait':
                now += s.ms;
                break;
              case 'install':
                record('INSTALL_REQUESTED', { source: s.remote ? { kind: 'remote', installId: IIDS[s.which], catalog: 'http://c/' } : { kind: 'link', path: ROOTS[s.which] }, force: s.force, upgrade: false });
                break;
              case 'manifest':
                record('MANIFEST_VALIDATED', { manifestPath: '/a/flow-tool.toml', manifestSha256: SHA, language: 'sh', version: null });
                break;
              case 'propose':
                record('REGISTER_REQUESTED', {
                  id: 'echo',
                  candidate: s.remote ? { kind: 'remote', installId: IIDS[s.which], sourceRoot: null } : { kind: 'link', installId: null, sourceRoot: ROOTS[s.which] },
                  replaces: s.replaces.map(ref),
                  force: s.force,
                  rebuild: s.rebuild,
                });
                break;
              case 'registered': {
                const d = context().decision;
                if (s.asDecided && d?.outcome === 'register') {
                  const i = d.candidate.kind === 'remote' ? IIDS.indexOf(d.candidate.installId) : ROOTS.indexOf(d.candidate.sourceRoot);
                  record('REGISTERED', { registration: registration(d.candidate.kind === 'remote', i), replaced: d.replaced, active: d.active, shims: [] });
                } else record('REGISTERED', { registration: registration(s.remote, s.which), replaced: [], active: s.active, shims: [] });
                break;
              }
              case 'failed':
                record('INSTALL_FAILED', { step: 'register', reason: 'boom' });
                break;
              case 'uninstall':
                record('UNINSTALL_REQUESTED', { installId: null });
                break;
              case 'uninstalled':
                record('UNINSTALLED', { removed: s.removed.map(ref), shimsRemoved: [] });
                break;
              case 'found':
                record('FOUND', { registrations: s.regs.map((r) => ({ ...registration(r.remote, r.which), active: r.active })) });
                break;
              case 'download':
                record(s.what, downloads[s.what]!);
                break;
            }
          }
          const log = store.readStream(ID);
          expect(log.length + refused).toBe(steps.filter((s) => s.t !== 'wait').length);
          const folded = fold(kind, log);
          const snap = live.getSnapshot();
          expect(folded.value).toEqual(snap.value);
          expect(folded.context).toEqual(snap.context);
          expect(folded.value).toEqual(current.snapshot.value);
          expect(folded.context).toEqual(current.snapshot.context);
          if (log.length > 0) {
            const row = readActor(store.db, ID)!;
            expect(row.snapshot).toEqual(JSON.parse(JSON.stringify(toStored(folded))));
            expect(row.status).toBe(kind.status(folded as never));
          }
        } finally {
          live.stop();
          store.close();
        }
      }),
      { numRuns: 200 },
    );
  });

  it('the machine refuses some proposals in these runs (the property is not vacuous about refusals)', () => {
    const store = EventStore.open(':memory:', { host: 'prop', projectors: [new ActorProjector(kindFor)], pollMs: 0 });
    try {
      let current: { snapshot: Snapshot; version: number } = { snapshot: initialSnapshot(kind), version: 0 };
      const at = 1_700_000_000_000;
      for (const [type, data] of [
        ['INSTALL_REQUESTED', { source: { kind: 'link', path: '/a' }, force: false, upgrade: false }],
        ['REGISTER_REQUESTED', { id: 'echo', candidate: { kind: 'link', installId: null, sourceRoot: '/a' }, replaces: [], force: false, rebuild: false }],
        ['REGISTERED', { registration: registration(false, 0), replaced: [], active: true, shims: [] }],
        ['INSTALL_REQUESTED', { source: { kind: 'link', path: '/b' }, force: false, upgrade: false }],
      ] as const) {
        const rec = recordEvent(store, kind, ID, current, { type, data, at });
        current = { snapshot: rec.snapshot, version: rec.envelope.version };
      }
      expect(() => recordEvent(store, kind, ID, current, { type: 'REGISTER_REQUESTED', data: { id: 'echo', candidate: { kind: 'link', installId: null, sourceRoot: '/b' }, replaces: [], force: false, rebuild: false }, at })).toThrow(
        new RejectedCommandError('echo is already linked to /a; use --force to link it to /b instead', 'resolving'),
      );
      expect(store.readStream(ID)).toHaveLength(4);
    } finally {
      store.close();
    }
  });
});
