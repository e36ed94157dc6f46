import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { buildBlocked, lookupBuilt } from './build-cache.js';
import { which } from './backends/which.js';
import { listTools, resolveTool, buildSpecOf, type ListedTool } from './resolver.js';
import type { ToolPaths } from './paths.js';
import { binOnPath, isOurShim, pathAdvice, shimPath, shimScript } from './shims.js';

export interface DoctorCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface DoctorReport {
  id: string;
  kind: string | null;
  root: string | null;
  manifestPath: string | null;
  language: string | null;
  binaryName: string | null;
  run: string[] | null;
  build: string[] | null;
  /** Keys only: values may be secrets. */
  envKeys: string[];
  aliases: string[];
  registrations: ListedTool[];
  checks: DoctorCheck[];
  ok: boolean;
}

/** `f cli doctor <id>`: manifest, runtime on PATH, build cache, shim, PATH, and every conflict. */
export function doctorTool(paths: ToolPaths, name: string, env: NodeJS.ProcessEnv = process.env): DoctorReport {
  const checks: DoctorCheck[] = [];
  const listing = listTools(paths, env);
  const report: DoctorReport = { id: name, kind: null, root: null, manifestPath: null, language: null, binaryName: null, run: null, build: null, envKeys: [], aliases: [], registrations: [], checks, ok: false };
  let resolved;
  try {
    resolved = resolveTool(paths, name, env);
    checks.push({ name: 'manifest', ok: true, detail: `${resolved.manifestPath} is valid` });
  } catch (err) {
    checks.push({ name: 'resolve', ok: false, detail: (err as Error).message });
  }
  const id = resolved?.id ?? name;
  report.registrations = listing.tools.filter((t) => t.id === id);
  for (const b of listing.broken.filter((b) => b.path.includes(`/${name}/`))) checks.push({ name: 'dev-root manifest', ok: false, detail: b.error });
  if (resolved) {
    const m = resolved.manifest;
    Object.assign(report, {
      id,
      kind: resolved.kind,
      root: resolved.root,
      manifestPath: resolved.manifestPath,
      language: m.language,
      binaryName: m.binary_name,
      run: m.exec.run,
      build: m.exec.build ?? null,
      envKeys: Object.keys(m.exec.env),
      aliases: m.aliases,
    });
    const program = m.exec.build ? m.exec.build[0]! : m.exec.run[0]!;
    const found = program.includes('/') && !isAbsolute(program) ? (existsSync(join(resolved.root, program)) ? join(resolved.root, program) : null) : which(program, env);
    checks.push({ name: 'runtime', ok: found !== null, detail: found ? `${program} → ${found}` : `${program} is not on PATH (install ${m.language === 'go' ? 'Go' : m.language === 'rust' ? 'Rust (cargo)' : program})` });
    const spec = buildSpecOf(resolved);
    if (spec) {
      const blocked = buildBlocked(paths, spec);
      const built = blocked ? null : lookupBuilt(paths, spec);
      if (blocked) {
        checks.push({ name: 'build', ok: false, detail: `needs a build: its [exec].build (${spec.build.join(' ')}) comes from the catalog and has not been run; f install --build ${blocked.installId} builds it` });
      } else checks.push({ name: 'build', ok: true, detail: built ? `built: ${built}` : 'sources changed since the last build (or never built): the next f cli run builds' });
    }
    if (resolved.kind !== 'dev') {
      const shim = shimPath(paths, id);
      if (!existsSync(shim)) checks.push({ name: 'shim', ok: false, detail: `${shim} is missing (f cli upgrade ${id} writes it)` });
      else if (!isOurShim(shim)) checks.push({ name: 'shim', ok: false, detail: `${shim} belongs to something else` });
      else {
        const current = readFileSync(shim, 'utf8');
        const expected = m.exec.build ? null : shimScript({ id, argv: m.exec.run, cwd: resolved.root, env: m.exec.env, description: '' });
        const stale = expected !== null && current.split('\n').slice(4).join('\n') !== expected.split('\n').slice(4).join('\n');
        checks.push({ name: 'shim', ok: !stale, detail: stale ? `${shim} is out of date (f cli ${id} or f cli upgrade ${id} rewrites it)` : `${shim}` });
      }
      checks.push({ name: 'PATH', ok: binOnPath(paths, env), detail: binOnPath(paths, env) ? `${paths.bin} is on PATH` : pathAdvice(paths) });
    }
  }
  const conflict = listing.conflicts.find((c) => c.id === id);
  if (conflict) checks.push({ name: 'conflict', ok: true, detail: `${id} runs ${conflict.active}; also provided by ${conflict.others.join(', ')}` });
  // PATH is advice for shims, not a fault of the tool: f cli <id> works either way.
  report.ok = checks.every((c) => c.ok || c.name === 'PATH');
  return report;
}
