import { createHash } from 'node:crypto';
import type { ActorKind } from '../../actors/kind.js';

/**
 * A machine's version, stored with every snapshot. A snapshot is the fold of a stream *through
 * one machine*; folded by another (a state added, a transition moved, a guard or an assignment
 * changed) it may not be what this machine gives, so recovery trusts it only when the version
 * matches. It is a hash of the machine's definition — states, transitions, `after` and
 * `always`, the names of the guards, actions and delays they use — and of the kind's explicit
 * `version`, which a change inside a named implementation must bump
 * (test/unit/machine-version.test.ts pins each kind's implementations and says so). Function
 * bodies are not hashed: their text differs between compilers (tsc for dist/, esbuild for the
 * tests), and a log must mean the same to both.
 */
const versions = new WeakMap<object, string>();

export function machineVersion(kind: ActorKind): string {
  let v = versions.get(kind.machine);
  if (!v) {
    // Through JSON first, as XState means its definition to be read: transitions give their
    // toJSON() (targets by id), not the state nodes they point at.
    const definition = JSON.parse(JSON.stringify(kind.machine.definition, (_k, v: unknown) => (typeof v === 'function' ? 'fn' : v))) as unknown;
    const text = describe({ streamType: kind.streamType, version: kind.version ?? 1, definition }, new Set(), 0);
    v = createHash('sha256').update(text).digest('hex').slice(0, 16);
    versions.set(kind.machine, v);
  }
  return v;
}

/** A stable text for a value: object keys sorted, a function as a mark (inline guards and actions), cycles cut. */
function describe(value: unknown, seen: Set<unknown>, depth: number): string {
  if (value === null || value === undefined) return String(value);
  const t = typeof value;
  if (t === 'string') return JSON.stringify(value);
  if (t === 'number' || t === 'boolean' || t === 'bigint') return String(value);
  if (t === 'symbol') return (value as symbol).toString();
  // A cycle (or absurd depth) is cut, not followed: the text stays finite and the same each time.
  if (seen.has(value) || depth > 40) return '<cycle>';
  seen.add(value);
  try {
    if (t === 'function') return 'fn';
    if (Array.isArray(value)) return `[${value.map((v) => describe(v, seen, depth + 1)).join(',')}]`;
    return describeProps(value as object, seen, depth);
  } finally {
    seen.delete(value);
  }
}

function describeProps(value: object, seen: Set<unknown>, depth: number): string {
  const keys = Object.keys(value).sort();
  const record = value as Record<string, unknown>;
  return `{${keys.map((k) => `${JSON.stringify(k)}:${describe(record[k], seen, depth + 1)}`).join(',')}}`;
}
