import { createHash } from 'node:crypto';
import type { ActorKind } from '../../actors/kind.js';

/**
 * A machine's version: a hash of its definition, stored with every snapshot. A snapshot is the
 * fold of a stream *through one machine*; folded by another (a state added, a guard or an
 * assignment changed) it may not be what this machine would give, so recovery trusts it only
 * when the hash matches. The hash covers the machine's config (states, transitions, `after`,
 * `always`, inline actions and guards, by their source) and its named implementations (by
 * source, with what `assign()` and friends carry), so changing any of it changes the version.
 */
const versions = new WeakMap<object, string>();

export function machineVersion(kind: ActorKind): string {
  const machine = kind.machine as unknown as { config: unknown; implementations: unknown; version?: string };
  let v = versions.get(machine);
  if (!v) {
    const text = describe({ streamType: kind.streamType, version: machine.version ?? null, config: machine.config, implementations: machine.implementations }, new Set(), 0);
    v = createHash('sha256').update(text).digest('hex').slice(0, 16);
    versions.set(machine, v);
  }
  return v;
}

/** A stable text for a value: object keys sorted, functions by their source and own properties. */
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
    if (t === 'function') {
      const fn = value as (...args: unknown[]) => unknown;
      // assign(), raise(), sendTo() … return a generic wrapper: what it does is in its properties.
      return `fn(${fn.toString()})${describeProps(fn, seen, depth)}`;
    }
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
