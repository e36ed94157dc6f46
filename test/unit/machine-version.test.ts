import { createHash } from 'node:crypto';
import { createMachine } from 'xstate';
import { describe, expect, it } from 'vitest';
import { backendChildKind, backendChildMachine } from '../../actors/backend-child/index.js';
import { kinds } from '../../actors/index.js';
import type { ActorKind } from '../../actors/kind.js';
import { machineVersion } from '../../services/store/machine-version.js';

/**
 * A stored snapshot is trusted only if the machine that folded it is this one
 * (services/store/machine-version.ts). The machine's shape is hashed; what a named guard,
 * action or delay does is not (its text differs between compilers), so each kind carries a
 * `version` that a change there must bump. The table below pins each kind's implementations:
 * when it fails, bump `version` in that kind's definition (actors/<kind>/index.ts) and update the row.
 */
const PINNED: Record<string, { version: number; implementations: string }> = {
  'backend-child': { version: 1, implementations: '150a76edfc3b0fe9' },
  tunnel: { version: 1, implementations: '60c470c3c0d9f76a' },
  'tool-install': { version: 2, implementations: '803bd4965e7f078b' },
  'opencode-instance': { version: 3, implementations: '64fd31db89e57f73' },
};

function implementationsHash(kind: ActorKind): string {
  const impl = kind.machine.implementations as unknown as Record<string, Record<string, unknown>>;
  const text = Object.keys(impl)
    .sort()
    .flatMap((group) =>
      Object.keys(impl[group]!)
        .sort()
        .map((name) => {
          const fn = impl[group]![name] as { toString(): string; assignment?: unknown; params?: unknown };
          // assign() and friends return a generic wrapper: what it does is what it carries.
          return `${group}.${name}=${String(fn)}${String(fn.assignment ?? '')}${String(fn.params ?? '')}`;
        }),
    )
    .join('\n');
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

const backend = backendChildKind as unknown as ActorKind;

describe('machine versions', () => {
  it('given the same machine, the version is the same each time', () => {
    const v = machineVersion(backend);
    expect(v).toMatch(/^[0-9a-f]{16}$/);
    expect(machineVersion(backend)).toBe(v);
  });

  it('given a state added to the machine, or a transition moved, the version differs', () => {
    const config = backendChildMachine.config as unknown as { states: { life: { states: Record<string, { on?: Record<string, unknown> }> } } };
    const life = config.states.life;
    const withState = createMachine({ ...(config as object), states: { ...config.states, life: { ...life, states: { ...life.states, paused: {} } } } } as never).provide(backendChildMachine.implementations as never);
    expect(machineVersion({ ...backend, machine: withState })).not.toBe(machineVersion(backend));
    const stopped = life.states.stopped!;
    const moved = createMachine({ ...(config as object), states: { ...config.states, life: { ...life, states: { ...life.states, stopped: { ...stopped, on: { ...stopped.on, START_REQUESTED: { target: 'removed' } } } } } } } as never).provide(
      backendChildMachine.implementations as never,
    );
    expect(machineVersion({ ...backend, machine: moved })).not.toBe(machineVersion(backend));
  });

  it('given a kind whose version was bumped, the version differs', () => {
    expect(machineVersion({ ...backend, machine: backendChildMachine.provide({}), version: 2 })).not.toBe(machineVersion(backend));
  });

  it("given each kind's named implementations, they are the ones pinned with its version (a change there must bump the kind's version)", () => {
    const got = Object.fromEntries(kinds.map((kind) => [kind.streamType, { version: kind.version ?? 1, implementations: implementationsHash(kind as unknown as ActorKind) }]));
    expect(got).toEqual(PINNED);
  });
});
