import fc from 'fast-check';
import { createActor } from 'xstate';
import { describe, expect, it } from 'vitest';
import type { ActorKind } from '../../actors/kind.js';
import { TOOL_ID_REGEX, toolInstallEvents, toolInstallKind, toolInstallMachine, toolInstallStreamId, parseToolInstallStreamId } from '../../actors/tool-install/index.js';
import { fold } from '../../actors/fold.js';
import { validateEventData } from '../../services/host/writer.js';
import { TOOL_ID_PATTERN } from '../../services/tool-install/tool-id.js';
import { SimulatedHost } from '../support/given.js';

const kind = toolInstallKind as unknown as ActorKind;
const IID = 'cli_01jv8n0000000000000000000a';
const IID2 = 'cli_01jv8n0000000000000000000b';
const SHA = 'a'.repeat(64);
const reg = (k: 'link' | 'remote', installId: string | null) => ({ kind: k, installId, sourceRoot: '/src', manifestPath: '/src/flow-tool.toml', version: null, installedAt: '2026-01-01T00:00:00Z' });

/** Every event type of the stream, with valid data (each is checked against its zod schema). */
const samples: Record<string, Record<string, unknown>[]> = {
  INSTALL_REQUESTED: [
    { source: { kind: 'link', path: '/src' }, force: false, upgrade: false },
    { source: { kind: 'remote', installId: IID, catalog: 'http://c/' }, force: true, upgrade: false },
  ],
  MANIFEST_VALIDATED: [{ manifestPath: '/src/flow-tool.toml', manifestSha256: SHA, language: 'go', version: null }],
  DOWNLOAD_STARTED: [{ url: 'http://c/x.tgz', totalBytes: 100 }],
  DOWNLOAD_PROGRESS: [{ receivedBytes: 50, totalBytes: 100 }],
  DOWNLOADED: [{ bytes: 100 }],
  CHECKSUM_VERIFIED: [{ sha256: SHA }],
  EXTRACTED: [{ entries: 3, bytes: 300 }],
  BUILT: [{ cacheKey: 'k', output: '/cache/x' }],
  REGISTERED: [
    { registration: reg('link', null), replaced: [], active: true, shims: ['/bin/x'] },
    { registration: reg('remote', IID), replaced: [], active: false, shims: [] },
    { registration: reg('remote', IID2), replaced: [{ kind: 'remote', installId: IID }], active: true, shims: [] },
  ],
  REGISTER_REQUESTED: [
    { id: 'echo', candidate: { kind: 'link', installId: null, sourceRoot: '/src' }, replaces: [], force: false, rebuild: false },
    { id: 'echo', candidate: { kind: 'link', installId: null, sourceRoot: '/other' }, replaces: [], force: false, rebuild: false },
    { id: 'echo', candidate: { kind: 'remote', installId: IID, sourceRoot: null }, replaces: [], force: true, rebuild: false },
    { id: 'echo', candidate: { kind: 'remote', installId: IID2, sourceRoot: null }, replaces: [{ kind: 'remote', installId: IID }], force: false, rebuild: false },
  ],
  ALREADY_INSTALLED: [{ sourceRoot: '/src' }],
  INSTALL_FAILED: [{ step: 'checksum', reason: 'checksum mismatch' }],
  UNINSTALL_REQUESTED: [{ installId: null }],
  UNINSTALLED: [{ removed: [{ kind: 'link', installId: null }], shimsRemoved: [] }, { removed: [{ kind: 'remote', installId: IID }], shimsRemoved: [] }],
  FOUND: [{ registrations: [] }, { registrations: [{ ...reg('link', null), active: true }] }],
};

const eventArb = fc.constantFrom(...Object.entries(samples).flatMap(([type, list]) => list.map((data) => ({ type, data }))));

describe('tool-install machine', () => {
  it('has a zod schema for every event it handles, and every sample passes it', () => {
    expect(Object.keys(samples).sort()).toEqual(Object.keys(toolInstallEvents).sort());
    for (const [type, list] of Object.entries(samples)) for (const data of list) expect(() => validateEventData(kind, type, data)).not.toThrow();
  });

  it('keeps the tool-id pattern equal to the zod-free copy used by the fast f cli path', () => {
    expect(TOOL_ID_REGEX.source).toBe(TOOL_ID_PATTERN.source);
    expect(() => toolInstallStreamId('../x', 'alpha')).toThrow();
    expect(() => toolInstallStreamId('echo', 'a.b')).toThrow();
    // Installs are per host: the host is part of the stream's name.
    expect(toolInstallStreamId('codex-session-browser', 'alpha')).toBe('tool-install:codex-session-browser_alpha');
    expect(parseToolInstallStreamId('tool-install:codex-session-browser_my_Host-1')).toEqual({ id: 'codex-session-browser', host: 'my_Host-1' });
    expect(parseToolInstallStreamId('tool-install:echo')).toEqual({ id: 'echo', host: null });
  });

  it('follows a remote install step by step to installed', () => {
    const sim = new SimulatedHost(kind);
    const states: string[] = [];
    for (const type of ['INSTALL_REQUESTED', 'MANIFEST_VALIDATED', 'DOWNLOAD_STARTED', 'DOWNLOAD_PROGRESS', 'DOWNLOADED', 'CHECKSUM_VERIFIED', 'EXTRACTED']) {
      sim.send(type, samples[type]![type === 'INSTALL_REQUESTED' ? 1 : 0]!);
      states.push(sim.state);
    }
    expect(states).toEqual(['resolving', 'resolving', 'downloading', 'downloading', 'verifying', 'extracting', 'registering']);
    sim.send('REGISTERED', samples.REGISTERED![2]!);
    expect(sim.state).toBe('installed');
    expect(sim.context.registrations).toMatchObject([{ kind: 'remote', installId: IID2, active: true }]);
  });

  it('a failed first install is failed; a failed upgrade leaves the tool installed with the error noted', () => {
    const sim = new SimulatedHost(kind);
    sim.send('INSTALL_REQUESTED', samples.INSTALL_REQUESTED![0]!).send('INSTALL_FAILED', samples.INSTALL_FAILED![0]!);
    expect(sim.state).toBe('failed');
    sim.send('INSTALL_REQUESTED', samples.INSTALL_REQUESTED![0]!).send('REGISTERED', samples.REGISTERED![0]!);
    sim.send('INSTALL_REQUESTED', samples.INSTALL_REQUESTED![1]!).send('INSTALL_FAILED', samples.INSTALL_FAILED![0]!);
    expect(sim.state).toBe('installed');
    expect(sim.context.lastError).toMatchObject({ step: 'checksum' });
  });

  it('uninstalling one of two registrations hands the id to the other', () => {
    const sim = new SimulatedHost(kind);
    sim.send('INSTALL_REQUESTED', samples.INSTALL_REQUESTED![0]!).send('REGISTERED', samples.REGISTERED![0]!);
    sim.send('INSTALL_REQUESTED', samples.INSTALL_REQUESTED![1]!).send('REGISTERED', samples.REGISTERED![1]!);
    expect((sim.context.registrations as { active: boolean }[]).map((r) => r.active)).toEqual([true, false]);
    sim.send('UNINSTALL_REQUESTED', samples.UNINSTALL_REQUESTED![0]!).send('UNINSTALLED', samples.UNINSTALLED![0]!);
    expect(sim.state).toBe('installed');
    expect(sim.context.registrations).toMatchObject([{ kind: 'remote', installId: IID, active: true }]);
    sim.send('UNINSTALL_REQUESTED', samples.UNINSTALL_REQUESTED![0]!).send('UNINSTALLED', samples.UNINSTALLED![1]!);
    expect(sim.state).toBe('uninstalled');
  });

  it('replay equals live: for any event sequence, the fold of the log equals XState’s live actor', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 40 }), (events) => {
        const live = createActor(toolInstallMachine).start();
        const sim = new SimulatedHost(kind);
        for (const e of events) {
          sim.advance(1000);
          live.send({ ...e.data, type: e.type, at: sim.now } as never);
          sim.send(e.type, e.data);
        }
        const snap = live.getSnapshot();
        live.stop();
        const folded = fold(kind, sim.log);
        expect(folded.value).toEqual(snap.value);
        expect(folded.context).toEqual(snap.context);
      }),
      { numRuns: 300 },
    );
  });
});
