import type { AnyStateMachine, AnyStateNode, EventObject } from 'xstate';
import { initialSnapshot, toMachineEvent, type ActionLike, type RecordedEvent, type StoredSnapshot } from './fold.js';
import type { ActorKind } from './kind.js';

/**
 * The full fold without XState's interpreter: `f events verify` folds every stream of the log,
 * and XState's `transition()` spends ~20 µs per event rebuilding what depends only on the state
 * configuration (exit and entry sets, the next configuration, its state value, a fresh snapshot
 * object with its tag set). This is the same SCXML macrostep, ported from XState v5's own
 * algorithm (microstep, removeConflictingTransitions, computeExitSet, computeEntrySet, the
 * eventless loop and the internal queue) with everything structural computed once per
 * configuration and cached; guards run through XState's own `StateNode.next` and the actions
 * through their own definitions, per event.
 *
 * It covers the shapes our machines use: atomic, compound and parallel states, `always`, `after`,
 * `reenter`, guards (named, inline, `and`/`or`/`not`), and the actions assign, raise (delayed or
 * not), cancel and named effects. A machine with anything else (history or final states,
 * invocations, spawning, other built-in actions) is not compiled (`fastMachine` gives null) and
 * is folded through XState. XState stays the judge: test/unit/fast-fold.test.ts checks that
 * both give the same snapshot and the same actions, event by event, for random histories of
 * every kind.
 */

/** A state configuration: XState's `_nodes`, in XState's order, interned per machine. */
interface Config {
  nodes: readonly AnyStateNode[];
  nodeSet: ReadonlySet<AnyStateNode>;
  value: unknown;
  /** The nodes with `always` transitions, per atomic node in XState's selection order. */
  eventless: readonly (readonly AnyStateNode[])[];
  /** Microstep plans, by the transitions taken. */
  plans: Map<string, Plan>;
}

interface Plan {
  /** The transitions left after conflicts are removed, in order. */
  actions: readonly unknown[];
  next: Config;
  /** The configuration does not change (XState then keeps the snapshot object if no context changed). */
  same: boolean;
}

export interface FastState {
  config: Config;
  context: Record<string, unknown>;
}

export interface FastMachine {
  initial(): FastState;
  step(state: FastState, e: RecordedEvent): [FastState, ActionLike[]];
  /**
   * The same step for an event the caller has just parsed and gives away: its data becomes the
   * machine event in place (what toMachineEvent builds, without the copy), `at` already parsed.
   */
  stepOwned(state: FastState, type: string, data: Record<string, unknown>, at: number): [FastState, ActionLike[]];
}

interface Transition {
  source: AnyStateNode;
  target?: readonly AnyStateNode[];
  reenter: boolean;
  actions: readonly unknown[];
  guard?: unknown;
}

type Builtin = ((...args: unknown[]) => unknown) & { type: string; resolve?: unknown; assignment?: unknown; event?: unknown; id?: unknown; delay?: unknown; sendId?: unknown };

const SUPPORTED_BUILTINS = new Set(['xstate.assign', 'xstate.raise', 'xstate.cancel']);

const compiled = new WeakMap<AnyStateMachine, FastMachine | null>();

/** The fast fold of a kind's machine, or null when it uses something the port does not cover. */
export function fastMachine(kind: ActorKind): FastMachine | null {
  const machine = kind.machine as AnyStateMachine;
  if (compiled.has(machine)) return compiled.get(machine)!;
  const fm = supported(machine) ? build(kind, machine) : null;
  compiled.set(machine, fm);
  return fm;
}

/** The stored form of a fast state: what toStored() gives of the XState snapshot. */
export function fastToStored(state: FastState): StoredSnapshot {
  return { value: state.config.value, context: state.context };
}

function allNodes(root: AnyStateNode): AnyStateNode[] {
  const out: AnyStateNode[] = [];
  const walk = (n: AnyStateNode) => {
    out.push(n);
    for (const c of Object.values(n.states) as AnyStateNode[]) walk(c);
  };
  walk(root);
  return out;
}

function transitionsOf(n: AnyStateNode): Transition[] {
  const all: Transition[] = [];
  for (const list of n.transitions.values()) all.push(...(list as unknown as Transition[]));
  if (n.always) all.push(...(n.always as unknown as Transition[]));
  if (n.type === 'compound') all.push(n.initial as unknown as Transition);
  return all;
}

function supported(machine: AnyStateMachine): boolean {
  const impl = machine.implementations.actions as Record<string, unknown>;
  const actionOk = (a: unknown): boolean => {
    const resolved = typeof a === 'function' ? a : impl[typeof a === 'string' ? a : (a as { type: string }).type];
    if (!resolved) return true; // an unimplemented name: XState hands it to the executor as is
    if (typeof resolved === 'object') return false;
    if (!('resolve' in (resolved as object))) return true; // a named effect or an inline function
    return SUPPORTED_BUILTINS.has((resolved as Builtin).type);
  };
  for (const n of allNodes(machine.root)) {
    if (!['atomic', 'compound', 'parallel'].includes(n.type)) return false;
    if (n.invoke.length > 0) return false;
    const lists = [n.entry, n.exit, ...transitionsOf(n).map((t) => t.actions)];
    for (const list of lists) for (const a of list as unknown[]) if (!actionOk(a)) return false;
    for (const t of transitionsOf(n)) for (const tgt of t.target ?? []) if (tgt.type === 'history') return false;
  }
  // The initial state (a context given as a function included) comes from XState's own initial
  // snapshot; a spawn inside an assignment is refused when it runs.
  return true;
}

function isDescendant(child: AnyStateNode, parent: AnyStateNode | undefined): boolean {
  let marker = child;
  while (marker.parent && marker.parent !== parent) marker = marker.parent;
  return marker.parent === parent;
}

function properAncestors(node: AnyStateNode, to: AnyStateNode | undefined): AnyStateNode[] {
  const out: AnyStateNode[] = [];
  if (to === node) return out;
  let m = node.parent;
  while (m && m !== to) {
    out.push(m);
    m = m.parent;
  }
  return out;
}

function children(n: AnyStateNode): AnyStateNode[] {
  return (Object.values(n.states) as AnyStateNode[]).filter((s) => s.type !== 'history');
}

function transitionDomain(t: Transition): AnyStateNode | undefined {
  const targets = t.target ? [...new Set(t.target)] : [];
  if (!t.reenter && targets.every((x) => x === t.source || isDescendant(x, t.source))) return t.source;
  const all = [...targets, t.source];
  const [head, ...tail] = all;
  for (const anc of properAncestors(head!, undefined)) if (tail.every((s) => isDescendant(s, anc))) return anc;
  if (t.reenter) return undefined;
  return t.source.machine.root;
}

function exitSet(ts: readonly Transition[], nodes: ReadonlySet<AnyStateNode>): AnyStateNode[] {
  const out = new Set<AnyStateNode>();
  for (const t of ts) {
    if (t.target?.length) {
      const domain = transitionDomain(t);
      if (t.reenter && t.source === domain) out.add(domain);
      for (const n of nodes) if (isDescendant(n, domain)) out.add(n);
    }
  }
  return [...out];
}

function removeConflicts(enabled: readonly Transition[], nodes: ReadonlySet<AnyStateNode>): Transition[] {
  const filtered = new Set<Transition>();
  for (const t1 of enabled) {
    let preempted = false;
    const remove = new Set<Transition>();
    for (const t2 of filtered) {
      const e1 = new Set(exitSet([t1], nodes));
      if (exitSet([t2], nodes).some((n) => e1.has(n))) {
        if (isDescendant(t1.source, t2.source)) remove.add(t2);
        else {
          preempted = true;
          break;
        }
      }
    }
    if (!preempted) {
      for (const t3 of remove) filtered.delete(t3);
      filtered.add(t1);
    }
  }
  return [...filtered];
}

function addDescendants(node: AnyStateNode, forDefault: Set<AnyStateNode>, enter: Set<AnyStateNode>): void {
  if (node.type === 'compound') {
    const [initial] = (node.initial as unknown as Transition).target!;
    enter.add(initial!);
    forDefault.add(initial!);
    addDescendants(initial!, forDefault, enter);
    addAncestors(enter, forDefault, properAncestors(initial!, node), undefined);
  } else if (node.type === 'parallel') {
    for (const child of children(node)) {
      if (![...enter].some((s) => isDescendant(s, child))) {
        enter.add(child);
        forDefault.add(child);
        addDescendants(child, forDefault, enter);
      }
    }
  }
}

function addAncestors(enter: Set<AnyStateNode>, forDefault: Set<AnyStateNode>, ancestors: AnyStateNode[], domain: AnyStateNode | undefined): void {
  for (const anc of ancestors) {
    if (!domain || isDescendant(anc, domain)) enter.add(anc);
    if (anc.type === 'parallel') {
      for (const child of children(anc)) {
        if (![...enter].some((s) => isDescendant(s, child))) {
          enter.add(child);
          addDescendants(child, forDefault, enter);
        }
      }
    }
  }
}

function entrySet(ts: readonly Transition[], forDefault: Set<AnyStateNode>, enter: Set<AnyStateNode>): void {
  for (const t of ts) {
    const domain = transitionDomain(t);
    for (const s of t.target ?? []) {
      if (t.source !== s || t.source !== domain || t.reenter) {
        enter.add(s);
        forDefault.add(s);
      }
      addDescendants(s, forDefault, enter);
    }
    for (const s of t.target ? [...new Set(t.target)] : []) {
      const ancestors = properAncestors(s, domain);
      if (domain?.type === 'parallel') ancestors.push(domain);
      addAncestors(enter, forDefault, ancestors, !t.source.parent && t.reenter ? undefined : domain);
    }
  }
}

/** XState's getStateValue: every node's ancestors and default descendants, then the value from the adjacency. */
function stateValue(root: AnyStateNode, nodes: readonly AnyStateNode[]): unknown {
  const set = new Set(nodes);
  const adjOf = (s: ReadonlySet<AnyStateNode>) => {
    const adj = new Map<AnyStateNode, AnyStateNode[]>();
    for (const n of s) {
      if (!adj.has(n)) adj.set(n, []);
      if (n.parent) {
        if (!adj.has(n.parent)) adj.set(n.parent, []);
        adj.get(n.parent)!.push(n);
      }
    }
    return adj;
  };
  const adj0 = adjOf(set);
  for (const s of set) {
    if (s.type === 'compound' && !adj0.get(s)?.length) {
      for (const x of initialWithAncestors(s)) set.add(x);
    } else if (s.type === 'parallel') {
      for (const child of children(s)) if (!set.has(child)) for (const x of initialWithAncestors(child)) set.add(x);
    }
  }
  for (const s of set) {
    let m = s.parent;
    while (m) {
      set.add(m);
      m = m.parent;
    }
  }
  const adj = adjOf(set);
  const fromAdj = (base: AnyStateNode): unknown => {
    const kids = adj.get(base);
    if (!kids) return {};
    if (base.type === 'compound') {
      const kid = kids[0];
      if (kid) {
        if (kid.type === 'atomic' || kid.type === 'final') return kid.key;
      } else return {};
    }
    const v: Record<string, unknown> = {};
    for (const kid of kids) v[kid.key] = fromAdj(kid);
    return v;
  };
  return fromAdj(root);
}

function initialWithAncestors(node: AnyStateNode): Set<AnyStateNode> {
  const set = new Set<AnyStateNode>();
  const iter = (d: AnyStateNode) => {
    if (set.has(d)) return;
    set.add(d);
    if (d.type === 'compound') iter((d.initial as unknown as Transition).target![0]!);
    else if (d.type === 'parallel') for (const c of children(d)) iter(c);
  };
  iter(node);
  for (const s of [...set]) for (const a of properAncestors(s, node)) set.add(a);
  return set;
}

class Unsupported extends Error {}

function build(kind: ActorKind, machine: AnyStateMachine): FastMachine {
  const root = machine.root as AnyStateNode;
  const impl = machine.implementations as { actions: Record<string, unknown>; delays: Record<string, unknown> };
  const configs = new Map<string, Config>();
  const ids = new Map<Transition, number>();
  const tid = (t: Transition) => {
    let id = ids.get(t);
    if (id === undefined) ids.set(t, (id = ids.size));
    return id;
  };

  const intern = (nodes: readonly AnyStateNode[]): Config => {
    const key = nodes.map((n) => n.id).join('\u0000');
    let c = configs.get(key);
    if (!c) {
      const eventless: AnyStateNode[][] = [];
      for (const n of nodes) {
        if (n.type !== 'atomic' && n.type !== 'final') continue;
        eventless.push([n, ...properAncestors(n, undefined)].filter((s) => s.always));
      }
      c = { nodes, nodeSet: new Set(nodes), value: stateValue(root, nodes), eventless, plans: new Map() };
      configs.set(key, c);
    }
    return c;
  };

  const plan = (config: Config, ts: readonly Transition[]): Plan => {
    const key = ts.map(tid).join(',');
    let p = config.plans.get(key);
    if (p) return p;
    const filtered = removeConflicts(ts, config.nodeSet);
    const mut = new Set(config.nodes);
    const exits = exitSet(filtered, mut).sort((a, b) => b.order - a.order);
    const actions: unknown[] = [];
    for (const s of exits) {
      actions.push(...s.exit);
      mut.delete(s);
    }
    for (const t of filtered) actions.push(...t.actions);
    const enter = new Set<AnyStateNode>();
    const forDefault = new Set<AnyStateNode>();
    entrySet(filtered, forDefault, enter);
    for (const s of [...enter].sort((a, b) => a.order - b.order)) {
      mut.add(s);
      actions.push(...s.entry);
      if (forDefault.has(s)) actions.push(...(s.initial as unknown as Transition).actions);
    }
    const same = config.nodes.length === mut.size && config.nodes.every((n) => mut.has(n));
    p = { actions, next: same ? config : intern([...mut]), same };
    config.plans.set(key, p);
    return p;
  };

  const guardSnapshot = (state: FastState) => ({ context: state.context, machine, value: state.config.value, _nodes: state.config.nodes });

  // StateNode.next without its per-call memo key: the candidates of (node, event type), then the first whose guard passes.
  const candidates = new Map<AnyStateNode, Map<string, readonly Transition[]>>();
  const candidatesOf = (node: AnyStateNode, type: string): readonly Transition[] => {
    let byType = candidates.get(node);
    if (!byType) candidates.set(node, (byType = new Map()));
    let list = byType.get(type);
    if (!list) {
      // XState's own list (exact match first, then wildcards), through StateNode.next's memo.
      list = candidatesFromXState(node, type);
      byType.set(type, list);
    }
    return list;
  };
  const nextOf = (node: AnyStateNode, state: FastState, event: EventObject): Transition[] | undefined => {
    for (const t of candidatesOf(node, event.type)) {
      if (!t.guard || evalGuard(t.guard, state, event)) return [t];
    }
    return undefined;
  };

  /** XState's transitionNode over the state value: the first enabled transition of each region, innermost first. */
  const select = (state: FastState, event: EventObject): Transition[] => {
    const visit = (node: AnyStateNode, value: unknown): Transition[] | undefined => {
      if (typeof value === 'string') {
        return nextOf(node.states[value] as AnyStateNode, state, event) ?? nextOf(node, state, event);
      }
      const keys = Object.keys(value as object);
      if (keys.length === 1) {
        const next = visit(node.states[keys[0]!] as AnyStateNode, (value as Record<string, unknown>)[keys[0]!]);
        return next?.length ? next : nextOf(node, state, event);
      }
      const all: Transition[] = [];
      for (const k of keys) {
        const sub = (value as Record<string, unknown>)[k];
        if (!sub) continue;
        const inner = visit(node.states[k] as AnyStateNode, sub);
        if (inner) all.push(...inner);
      }
      return all.length ? all : nextOf(node, state, event);
    };
    return visit(root, state.config.value) ?? [];
  };

  const evalGuard = (guard: unknown, state: FastState, event: EventObject): boolean => {
    return evaluateGuard(guard, state.context, event, guardSnapshot(state), machine);
  };

  const eventless = (state: FastState, event: EventObject): Transition[] => {
    const enabled = new Set<Transition>();
    for (const chain of state.config.eventless) {
      loop: for (const s of chain) {
        for (const t of s.always as unknown as Transition[]) {
          if (t.guard === undefined || evalGuard(t.guard, state, event)) {
            enabled.add(t);
            break loop;
          }
        }
      }
    }
    if (enabled.size === 0) return [];
    return removeConflicts([...enabled], state.config.nodeSet);
  };

  const micro = (ts: readonly Transition[], state: FastState, event: EventObject, queue: EventObject[], sink: ActionLike[]): FastState => {
    if (!ts.length) return state;
    const p = plan(state.config, ts);
    let context = state.context;
    let changed = false;
    for (const a of p.actions) {
      const inline = typeof a === 'function';
      const resolved = (inline ? a : impl.actions[refName(a)]) as Builtin | undefined;
      const params = inline ? undefined : refParams(a, context, event);
      if (!resolved || !('resolve' in resolved)) {
        sink.push({ type: typeof a === 'string' ? a : typeof a === 'object' ? (a as { type: string }).type : (a as { name?: string }).name || '(anonymous)', params });
        continue;
      }
      const args = { context, event, self: undefined, system: undefined };
      if (resolved.type === 'xstate.assign') {
        const assignment = resolved.assignment as ((x: unknown, p: unknown) => Record<string, unknown>) | Record<string, unknown>;
        const assignArgs = { context, event, spawn: () => { throw new Unsupported('spawn in a fast fold'); }, self: undefined, system: undefined };
        let partial: Record<string, unknown> = {};
        if (typeof assignment === 'function') partial = assignment(assignArgs, params);
        else for (const k of Object.keys(assignment)) {
          const v = assignment[k];
          partial[k] = typeof v === 'function' ? (v as (x: unknown, p: unknown) => unknown)(assignArgs, params) : v;
        }
        context = Object.assign({}, context, partial);
        changed = true;
      } else if (resolved.type === 'xstate.raise') {
        const ev = resolved.event as EventObject | ((x: unknown, p: unknown) => EventObject);
        if (typeof ev === 'string') throw new Unsupported('raise of a string');
        const resolvedEvent = typeof ev === 'function' ? ev(args, params) : ev;
        const d = resolved.delay;
        let delay: unknown;
        if (typeof d === 'string') {
          const cd = impl.delays?.[d];
          delay = typeof cd === 'function' ? (cd as (x: unknown, p: unknown) => unknown)(args, params) : cd;
        } else delay = typeof d === 'function' ? (d as (x: unknown, p: unknown) => unknown)(args, params) : d;
        if (typeof delay !== 'number') queue.push(resolvedEvent);
        sink.push({ type: 'xstate.raise', params: { event: resolvedEvent, id: resolved.id, delay } });
      } else if (resolved.type === 'xstate.cancel') {
        const s = resolved.sendId;
        sink.push({ type: 'xstate.cancel', params: { sendId: typeof s === 'function' ? (s as (x: unknown, p: unknown) => unknown)(args, params) : s } });
      } else {
        throw new Unsupported(`built-in action ${resolved.type}`);
      }
    }
    if (p.same && !changed) return state;
    return { config: p.next, context };
  };

  const first = initialSnapshot(kind) as unknown as { _nodes: AnyStateNode[]; context: Record<string, unknown>; status: string };
  if (first.status !== 'active') throw new Unsupported('a machine not active at start');
  const initialState: FastState = { config: intern(first._nodes), context: first.context };

  const run = (state: FastState, first: EventObject): [FastState, ActionLike[]] => {
    let event = first;
    if (event.type.startsWith('xstate.error.actor')) throw new Unsupported('an actor error event');
    const sink: ActionLike[] = [];
    const queue: EventObject[] = [];
    let next = micro(select(state, event), state, event, queue, sink);
    let selectEventless = true;
    for (;;) {
      let enabled: Transition[] = selectEventless ? eventless(next, event) : [];
      const previous: FastState | undefined = enabled.length ? next : undefined;
      if (!enabled.length) {
        if (!queue.length) break;
        event = queue.shift()!;
        enabled = select(next, event);
      }
      next = micro(enabled, next, event, queue, sink);
      selectEventless = next !== previous;
    }
    return [next, sink];
  };

  return {
    initial: () => initialState,
    step: (state, e) => run(state, toMachineEvent(e)),
    stepOwned(state, type, data, at) {
      if (type === 'TIMER_FIRED') return run(state, { ...(data.event as EventObject), at } as EventObject);
      // Key order as toMachineEvent's spread gives it: the data's keys, then type, then at.
      data.type = type;
      data.at = at;
      return run(state, data as unknown as EventObject);
    },
  };
}

/**
 * The candidate transitions of a node for an event type, as XState's getCandidates (not exported)
 * orders them: the exact match first, then wildcard descriptors, longest first.
 */
function candidatesFromXState(node: AnyStateNode, type: string): readonly Transition[] {
  const map = node.transitions as unknown as Map<string, Transition[]>;
  const exact = map.get(type);
  const wild = [...map.keys()]
    .filter((d) => d !== type && matchesDescriptor(type, d))
    .sort((a, b) => b.length - a.length)
    .flatMap((k) => map.get(k)!);
  return exact ? [...exact, ...wild] : wild;
}

/** XState's matchesEventDescriptor: `*`, and `a.b.*` for `a.b` and everything under it. */
function matchesDescriptor(type: string, descriptor: string): boolean {
  if (descriptor === type || descriptor === '*') return true;
  if (!descriptor.endsWith('.*')) return false;
  const partial = descriptor.split('.');
  const parts = type.split('.');
  for (let i = 0; i < partial.length; i++) {
    if (partial[i] === '*') return i === partial.length - 1;
    if (partial[i] !== parts[i]) return false;
  }
  return true;
}

/** The name an action or guard is referred to by: `'name'` or `{ type: 'name', params }`. */
function refName(ref: unknown): string {
  return typeof ref === 'string' ? ref : (ref as { type: string }).type;
}

/** The params of a `{ type, params }` reference, resolved as XState does (a function of context and event). */
function refParams(ref: unknown, context: unknown, event: EventObject): unknown {
  if (typeof ref === 'string' || !('params' in (ref as object))) return undefined;
  const params = (ref as { params: unknown }).params;
  return typeof params === 'function' ? (params as (x: unknown) => unknown)({ context, event }) : params;
}

/** XState's evaluateGuard (not exported), over the fast state: named, inline and built-in guards. */
function evaluateGuard(guard: unknown, context: unknown, event: EventObject, snapshot: unknown, machine: AnyStateMachine): boolean {
  const guards = machine.implementations.guards as Record<string, unknown>;
  const inline = typeof guard === 'function';
  const resolved = inline ? guard : guards[refName(guard)];
  if (!inline && !resolved) throw new Error(`the guard ${refName(guard)} is named by the machine but not defined in its setup()`);
  if (typeof resolved !== 'function') return evaluateGuard(resolved, context, event, snapshot, machine);
  const args = { context, event };
  const params = inline ? undefined : refParams(guard, context, event);
  if (!('check' in resolved)) return (resolved as (a: unknown, p: unknown) => boolean)(args, params);
  return (resolved as { check: (s: unknown, a: unknown, r: unknown) => boolean }).check(snapshot, args, resolved);
}
