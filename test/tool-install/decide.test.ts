import { describe, expect, it } from 'vitest';
import type { ActorKind } from '../../actors/kind.js';
import { toolInstallKind } from '../../actors/tool-install/index.js';
import { given, type Input } from '../support/given.js';

/**
 * The tool-install machine decides a registration (REGISTER_REQUESTED) from its stream: already
 * installed (nothing to do), refused (the host's refusal, in the words `f install` says), or
 * registered, with which registration runs and which are replaced decided here. The file work it
 * asks for is the `installFiles` effect.
 */
const kind = toolInstallKind as unknown as ActorKind;
const IID = 'cli_01jv8n0000000000000000000a';
const IID2 = 'cli_01jv8n0000000000000000000b';
const SHA = 'a'.repeat(64);

const installLink = (path: string, force = false): Input => ({ type: 'tool.install', id: 'echo', host: 'alpha', source: { kind: 'link', path }, force, upgrade: false });
const installRemote = (installId: string, force = false): Input => ({ type: 'tool.install', id: 'echo', host: 'alpha', source: { kind: 'remote', installId, catalog: 'http://c/' }, force, upgrade: false });
const manifest: Input = { type: 'MANIFEST_VALIDATED', manifestPath: '/a/flow-tool.toml', manifestSha256: SHA, language: 'sh', version: null };
const proposeLink = (sourceRoot: string, o: { force?: boolean; replaces?: unknown[] } = {}): Input => ({
  type: 'tool.register',
  host: 'alpha',
  id: 'echo',
  candidate: { kind: 'link', installId: null, sourceRoot },
  replaces: o.replaces ?? [],
  force: o.force ?? false,
  rebuild: false,
});
const proposeRemote = (installId: string, o: { force?: boolean; replaces?: unknown[]; rebuild?: boolean } = {}): Input => ({
  type: 'tool.register',
  host: 'alpha',
  id: 'echo',
  candidate: { kind: 'remote', installId, sourceRoot: null },
  replaces: o.replaces ?? [],
  force: o.force ?? false,
  rebuild: o.rebuild ?? false,
});
const registration = (kind: 'link' | 'remote', installId: string | null, sourceRoot: string) => ({ kind, installId, sourceRoot, manifestPath: `${sourceRoot}/flow-tool.toml`, version: null, installedAt: '2026-01-01T00:00:00Z' });
const linked = (sourceRoot: string): Input => ({ type: 'REGISTERED', registration: registration('link', null, sourceRoot), replaced: [], active: true, shims: [] });
const remoteRegistered = (installId: string, active: boolean, replaced: unknown[] = []): Input => ({ type: 'REGISTERED', registration: registration('remote', installId, `/installs/${installId}/bundle`), replaced, active, shims: [] });

/** A history in which /a is linked as echo. */
const linkedAtA: Input[] = [installLink('/a'), manifest, proposeLink('/a'), linked('/a')];

describe('tool-install decides a link', () => {
  it('given nothing installed, when a link is proposed, then it is registered as the active one and its files are asked for', () => {
    given(kind, [installLink('/a'), manifest])
      .when(proposeLink('/a'))
      .then({ state: 'resolving', effects: ['installFiles'], context: { decision: { outcome: 'register', active: true, replaced: [] } } });
  });

  it('given /a linked, when /a is proposed again, then it is already installed and nothing is written', () => {
    given(kind, [...linkedAtA, installLink('/a'), manifest])
      .when(proposeLink('/a'))
      .then({ state: 'installed', effects: [], context: { decision: { outcome: 'already-installed' } } });
  });

  it('given /a linked, when /b is proposed without --force, then it is refused in the words f install says', () => {
    given(kind, [...linkedAtA, installLink('/b'), manifest])
      .when(proposeLink('/b'))
      .thenRejected('echo is already linked to /a; use --force to link it to /b instead');
  });

  it('given /a linked, when /b is proposed with --force, then /b replaces the link at /a and runs', () => {
    const host = given(kind, [...linkedAtA, installLink('/b', true), manifest])
      .when(proposeLink('/b', { force: true }))
      .then({ effects: ['installFiles'], context: { decision: { outcome: 'register', active: true, replaced: [{ kind: 'link', installId: null }] } } });
    host.send('REGISTERED', { registration: registration('link', null, '/b'), replaced: [{ kind: 'link', installId: null }], active: true, shims: [] });
    expect(host.state).toBe('installed');
    expect(host.context.registrations).toMatchObject([{ kind: 'link', sourceRoot: '/b', active: true }]);
  });

  it('given /a linked, when it is upgraded (re-read from its source), then it is registered again in its own place', () => {
    given(kind, [...linkedAtA, installLink('/a', true), manifest])
      .when(proposeLink('/a', { force: true, replaces: [{ kind: 'link', installId: null }] }))
      .then({ effects: ['installFiles'], context: { decision: { outcome: 'register', active: true, replaced: [{ kind: 'link', installId: null }] } } });
  });

  it('given no install under way, when a registration is proposed, then it is refused', () => {
    given(kind, linkedAtA).when(proposeLink('/a')).thenRejected('no install of echo is under way');
  });
});

describe('tool-install decides which registration is active', () => {
  it('given nothing provides the id, when a remote install is proposed, then it runs', () => {
    given(kind, [installRemote(IID)]).when(proposeRemote(IID)).then({ effects: ['installFiles'], context: { decision: { outcome: 'register', active: true, replaced: [] } } });
  });

  it('given a link provides the id, when a remote install is proposed, then it is installed beside it, inactive', () => {
    given(kind, [...linkedAtA, installRemote(IID)])
      .when(proposeRemote(IID))
      .then({ effects: ['installFiles'], context: { decision: { outcome: 'register', active: false } } });
  });

  it('given a link provides the id, when a remote install is proposed with --force, then the remote install runs', () => {
    given(kind, [...linkedAtA, installRemote(IID, true)])
      .when(proposeRemote(IID, { force: true }))
      .then({ effects: ['installFiles'], context: { decision: { outcome: 'register', active: true } } });
  });

  it('given the active remote install, when an upgrade replaces it, then the new one runs in its place', () => {
    given(kind, [installRemote(IID), proposeRemote(IID), remoteRegistered(IID, true), installRemote(IID2)])
      .when(proposeRemote(IID2, { replaces: [{ kind: 'remote', installId: IID }] }))
      .then({ effects: ['installFiles'], context: { decision: { outcome: 'register', active: true, replaced: [{ kind: 'remote', installId: IID }] } } });
  });

  it('given an inactive remote install beside a link, when an upgrade replaces it, then the new one stays inactive', () => {
    given(kind, [...linkedAtA, installRemote(IID), proposeRemote(IID), remoteRegistered(IID, false), installRemote(IID2)])
      .when(proposeRemote(IID2, { replaces: [{ kind: 'remote', installId: IID }] }))
      .then({ context: { decision: { outcome: 'register', active: false } } });
  });

  it('given a remote install, when the same install id is proposed again, then it is already installed (nothing is downloaded)', () => {
    given(kind, [installRemote(IID), proposeRemote(IID), remoteRegistered(IID, true), installRemote(IID)])
      .when(proposeRemote(IID))
      .then({ state: 'installed', effects: [], context: { decision: { outcome: 'already-installed' } } });
  });

  it('given an inactive remote install whose build never ran, when it is built (--build), then it is registered again and keeps its place', () => {
    given(kind, [...linkedAtA, installRemote(IID), proposeRemote(IID), remoteRegistered(IID, false), installRemote(IID)])
      .when(proposeRemote(IID, { rebuild: true }))
      .then({ effects: ['installFiles'], context: { decision: { outcome: 'register', active: false, replaced: [] } } });
  });
});

describe('tool-install decides from what the files hold', () => {
  it('given a stream that knows nothing, when the files show /a linked, then a proposal of /b is refused', () => {
    given(kind, [installLink('/b'), manifest, { type: 'FOUND', registrations: [{ ...registration('link', null, '/a'), active: true }] }])
      .when(proposeLink('/b'))
      .thenRejected('echo is already linked to /a; use --force to link it to /b instead');
  });

  it('given a stream that shows /a linked, when the files show nothing, then /b is registered', () => {
    given(kind, [...linkedAtA, installLink('/b'), manifest, { type: 'FOUND', registrations: [] }])
      .when(proposeLink('/b'))
      .then({ effects: ['installFiles'], context: { decision: { outcome: 'register', active: true, replaced: [] } } });
  });
});
