import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The layers of Flow (DESIGN.md › Layout), as a test over the import graph of every .ts file in
 * actors/, services/, gateway/, infra/ and cli/ (type-only and dynamic imports count: a type
 * import upwards is still a dependency upwards, and a lazy one is one all the same).
 *
 *   actors/                      nothing of ours but actors/ (pure deciders)
 *   services/store, services/bus no services/host, no gateway/, no infra/, no cli/
 *   services/*                   no gateway/, no infra/, no cli/
 *   gateway/                     no infra/, no cli/
 *   infra/                       no cli/
 *   cli/                         anything
 * and no import circle anywhere. And a process's entry point reaches only the layers it runs:
 * `f host` (infra/host-process.ts) loads nothing of the gateway.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const TOP = ['actors', 'services', 'gateway', 'infra', 'cli'];

interface Rule {
  /** Files this rule constrains: a path prefix (relative to the repo, with "/"). */
  from: string;
  /** Imports it may not have: path prefixes of the files imported. */
  forbidden: string[];
  /** Imports it may only have (of our files), if set. */
  only?: string[];
  why: string;
}

const RULES: Rule[] = [
  { from: 'actors/', forbidden: [], only: ['actors/'], why: 'machines are pure deciders: they import nothing of ours but actors/' },
  { from: 'services/store/', forbidden: ['services/host/', 'gateway/', 'infra/', 'cli/'], why: 'the store is below the host' },
  { from: 'services/bus/', forbidden: ['services/host/', 'gateway/', 'infra/', 'cli/'], why: 'the bus is below the host' },
  { from: 'services/', forbidden: ['gateway/', 'infra/', 'cli/'], why: 'services act; the gateway, the wiring and the CLI are above them' },
  { from: 'gateway/', forbidden: ['infra/', 'cli/'], why: 'the gateway shows; the wiring and the CLI are above it' },
  { from: 'infra/', forbidden: ['cli/'], why: 'the CLI is above the wiring' },
];

/** Entry points, and the folders nothing they load (transitively) may come from. */
const REACH: { entry: string; forbidden: string; why: string }[] = [{ entry: 'infra/host-process.ts', forbidden: 'gateway/', why: 'f host runs actors; the gateway is another process' }];

/**
 * Violations that other branches of issue 12 remove; removed by the kind-contract /
 * gateway-shape branches. Empty this list as they merge: an entry that no longer happens fails
 * the test too, so the list cannot go stale.
 */
const KNOWN_UPWARD: string[] = [];
const KNOWN_CIRCLES: string[] = [];
const KNOWN_REACH: string[] = [];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const rel = (path: string) => relative(ROOT, path).split(sep).join('/');

/** Our file a specifier names ('./x.js' is x.ts on disk), or undefined for a package. */
function resolveImport(fromFile: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const base = resolve(dirname(fromFile), specifier);
  for (const candidate of [base.replace(/\.js$/, '.ts'), `${base}.ts`, join(base, 'index.ts')]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  throw new Error(`${rel(fromFile)} imports ${specifier}, which is no file`);
}

/** Every file's imports of our files (static, type-only, re-exports and dynamic import()). */
function importGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const top of TOP) {
    for (const file of sourceFiles(join(ROOT, top))) {
      const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
      const targets = new Set<string>();
      for (const ref of info.importedFiles) {
        const target = resolveImport(file, ref.fileName);
        if (target) targets.add(rel(target));
      }
      graph.set(rel(file), targets);
    }
  }
  return graph;
}

function upwardImports(graph: Map<string, Set<string>>): string[] {
  const out: string[] = [];
  for (const [from, targets] of graph) {
    // The most specific rule for a file decides (services/store/ before services/).
    const rule = RULES.filter((r) => from.startsWith(r.from)).sort((a, b) => b.from.length - a.from.length)[0];
    if (!rule) continue;
    for (const to of targets) {
      const bad = rule.forbidden.some((p) => to.startsWith(p)) || (rule.only !== undefined && !rule.only.some((p) => to.startsWith(p)));
      if (bad) out.push(`${from} -> ${to}`);
    }
  }
  return out.sort();
}

/** Every import circle, each as one cycle through it: "a -> b -> a" (Tarjan's strongly connected components). */
function circles(graph: Map<string, Set<string>>): string[] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v)?.has(v)) components.push(component);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return components.map((c) => describeCircle(graph, c)).sort();
}

/** A shortest way round a component, from its first file in name order, so the report is stable and readable. */
function describeCircle(graph: Map<string, Set<string>>, component: string[]): string {
  const members = new Set(component);
  const start = [...members].sort()[0]!;
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of [...(graph.get(v) ?? [])].sort()) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let at: string | undefined = v; at !== undefined && at !== start; at = previous.get(at)) path.splice(1, 0, at);
        const others = [...members].filter((m) => !path.includes(m)).sort();
        return `${[...path, start].join(' -> ')}${others.length > 0 ? ` (the circle also holds ${others.join(', ')})` : ''}`;
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [...members].sort().join(' <-> ');
}

/** For each entry point, the first forbidden file it loads and the import chain that loads it. */
function forbiddenReach(graph: Map<string, Set<string>>): string[] {
  const out: string[] = [];
  for (const { entry, forbidden } of REACH) {
    const previous = new Map<string, string>([[entry, '']]);
    const queue = [entry];
    const found = new Set<string>();
    while (queue.length > 0) {
      const v = queue.shift()!;
      for (const w of [...(graph.get(v) ?? [])].sort()) {
        if (previous.has(w)) continue;
        previous.set(w, v);
        if (w.startsWith(forbidden)) {
          // Report where the chain enters the forbidden folder, not everything beyond it.
          const chain = [w];
          for (let at = v; at !== ''; at = previous.get(at)!) chain.unshift(at);
          if (!found.has(w)) out.push(chain.join(' -> '));
          found.add(w);
          continue;
        }
        queue.push(w);
      }
    }
  }
  return out.sort();
}

/** The text of every string and template literal of a source file (comments are not literals). */
function stringLiterals(file: string, source: string): string[] {
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) out.push(node.text);
    else if (ts.isTemplateExpression(node)) out.push(node.head.text + node.templateSpans.map((s) => `\${…}${s.literal.text}`).join(''));
    ts.forEachChild(node, visit);
  };
  visit(ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true));
  return out;
}

function report(title: string, lines: string[]): string {
  return lines.length === 0 ? '' : `${title}:\n${lines.map((l) => `  ${l}`).join('\n')}`;
}

describe('the import graph', () => {
  const graph = importGraph();

  it('given the layers actors < store, bus < services < gateway < infra < cli, no file imports a layer above its own', () => {
    const found = upwardImports(graph);
    const unexpected = found.filter((v) => !KNOWN_UPWARD.includes(v));
    const stale = KNOWN_UPWARD.filter((v) => !found.includes(v));
    const why = RULES.map((r) => `  ${r.from}: ${r.why}`).join('\n');
    expect(
      [report('upward imports (move the code down, or pass what it needs in from above)', unexpected), report('no longer happen: remove them from KNOWN_UPWARD', stale)].filter(Boolean).join('\n') ||
        'none',
      `the layers:\n${why}`,
    ).toBe('none');
  });

  it('has no import circle', () => {
    const found = circles(graph);
    const unexpected = found.filter((c) => !KNOWN_CIRCLES.includes(c));
    const stale = KNOWN_CIRCLES.filter((c) => !found.includes(c));
    expect(
      [report('import circles (split the shared part into a module both import)', unexpected), report('no longer happen: remove them from KNOWN_CIRCLES', stale)].filter(Boolean).join('\n') || 'none',
    ).toBe('none');
  });

  it('given the entry points, none loads a layer its process does not run', () => {
    const found = forbiddenReach(graph);
    const unexpected = found.filter((c) => !KNOWN_REACH.includes(c));
    const stale = KNOWN_REACH.filter((c) => !found.includes(c));
    const why = REACH.map((r) => `  ${r.entry} must not load ${r.forbidden}: ${r.why}`).join('\n');
    expect(
      [report('loaded where it does not belong (the chain of imports)', unexpected), report('no longer happen: remove them from KNOWN_REACH', stale)].filter(Boolean).join('\n') || 'none',
      why,
    ).toBe('none');
  });

  it('builds every subject name in services/bus/names.ts: no other file spells "flow.live." or "flow.events."', () => {
    const found: string[] = [];
    for (const file of graph.keys()) {
      if (file === 'services/bus/names.ts') continue;
      for (const literal of stringLiterals(file, readFileSync(join(ROOT, file), 'utf8'))) {
        if (/flow\.(live|events)\./.test(literal)) found.push(`${file}: ${JSON.stringify(literal)}`);
      }
    }
    expect(report('subject names built outside services/bus/names.ts (use its builders)', found) || 'none').toBe('none');
  });

  it('sees the imports it checks (a graph of the real tree, not an empty one)', () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get('services/host/actor-host.ts')).toContain('services/store/errors.ts');
  });
});
