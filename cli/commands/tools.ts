import { summary } from '../command-summaries.js';
import type { Command } from 'commander';
import type { ToolInstallEntry } from '../../services/tool-install/entry.js';
import { toolPaths } from '../../services/tool-install/paths.js';

/**
 * `f install`, `f cli`, `f catalog` and `f ai codex browse`. This module is loaded for every
 * `f cli <id>` call and for `f --help`, so it imports only paths at the top; even the zod-free
 * fast path (cli-run) is imported when a tool runs, and everything else (zod, TOML, SQLite,
 * XState, tar) inside the commands that need it.
 */

async function runTool(id: string, args: string[]): Promise<void> {
  const { runTool: run } = await import('../../services/tool-install/cli-run.js');
  return run(id, args);
}

/** `f cli <id> -- a b`: commander keeps the `--`; the tool must get exactly what follows it. */
function toolArgs(rest: string[]): string[] {
  return rest[0] === '--' ? rest.slice(1) : rest;
}

/** The tool-install machine for this command, under the tool lock (infra/tool-install.ts). */
async function withToolInstall<T>(paths: ReturnType<typeof toolPaths>, fn: (entry: ToolInstallEntry) => Promise<T>): Promise<T> {
  const { withToolInstall: run } = await import('../../infra/tool-install.js');
  return run(paths, fn);
}

function say(notes: readonly string[]): void {
  for (const n of notes) process.stderr.write(`f: ${n}\n`);
}

interface InstallFlags {
  force?: boolean;
  link?: boolean;
  backend?: string;
  catalog?: string;
  version?: string;
  bin?: string;
  registry?: string;
  allowUnverified?: boolean;
  build?: boolean;
  json?: boolean;
}

async function installCommand(arg: string, flags: InstallFlags): Promise<void> {
  const paths = toolPaths();
  const { classifyInstallArg, installLink, installRemote, linkChoiceNote } = await import('../../services/tool-install/install.js');
  const target = classifyInstallArg(arg, { link: flags.link, backend: flags.backend });
  const { printJson } = await import('../output.js');
  if (target.kind === 'package') {
    const { installPackage, parseBackend } = await import('../../services/tool-install/backends/index.js');
    const hint = target.localDirHint ? `(${target.localDirHint} exists: to link it as a tool, run f install ./${arg})` : null;
    const backend = parseBackend(flags.backend);
    const res = await withToolInstall(paths, (entry) =>
      installPackage({ name: target.name, version: flags.version, bin: flags.bin, force: !!flags.force, allowUnverified: !!flags.allowUnverified, registry: flags.registry, paths, env: process.env }, backend, hint, entry),
    );
    if (flags.json) printJson(res);
    else say(res.notes);
    return;
  }
  const out = await withToolInstall(paths, (entry) =>
    target.kind === 'link' ? installLink(paths, target.path, entry, { force: flags.force, alsoPackage: target.alsoPackage }) : installRemote(paths, target.installId, entry, { force: flags.force, catalog: flags.catalog, build: flags.build }),
  );
  if (target.kind === 'link' && target.alsoPackage) out.notes.unshift(linkChoiceNote(target.alsoPackage, target.path));
  if (flags.json) return printJson(out);
  say(out.notes);
  if (out.status !== 'already-installed') {
    const what = out.kind === 'link' ? `linked to ${out.root}` : `${out.installId} in ${out.root}`;
    process.stdout.write(`Installed ${out.id} (${what})${out.active ? '' : ' [inactive]'}\n`);
  }
}

export function register(program: Command): void {
  // One module serves four groups; when f loads every group (f --help), register once.
  if (program.commands.some((c) => c.name() === 'cli')) return;
  // Lets `f cli <id> --help` reach the tool instead of printing f's help.
  program.enablePositionalOptions();

  program
    .command('install')
    .description(summary('install'))
    .argument('<tool>', 'a tool directory or flow-tool.toml, a remote install id (cli_<ulid> or cli:<ulid>), or a package name')
    .option('--force', 'replace an existing registration of the same id')
    .option('--link', 'treat <tool> as a path even if it looks like a package name')
    .option('--backend <name>', 'install <tool> as a package with this backend: auto (registry, parm, flox), registry, parm or flox (default auto; giving it also picks the package over a directory of the same name)')
    .option('--catalog <url>', 'remote catalog base (default FLOW_CATALOG_URL)')
    .option('--version <version>', 'package version (package backends)')
    .option('--bin <name>', 'which program of a package to install (package backends)')
    .option('--registry <url>', 'package registry (default FLOW_REGISTRY_URL)')
    .option('--allow-unverified', 'install a registry package that publishes no sha256')
    .option('--build', "run a remote tool's [exec].build now (it is the publisher's code: without --build, Flow installs the tool but never runs its build)")
    .option('--json', 'print the outcome as JSON')
    .action((arg: string, flags: InstallFlags) => installCommand(arg, flags));

  const cli = program
    .command('cli')
    .description(summary('cli'))
    .argument('[id]', 'tool id or alias')
    .argument('[args...]', 'arguments for the tool (after --)')
    .passThroughOptions()
    .action(async (id: string | undefined, rest: string[]) => {
      if (!id) return listCommand({});
      await runTool(id, toolArgs(rest));
    });

  cli
    .command('run')
    .description('run a tool (the same as f cli <id>, for a tool whose id is also a subcommand name)')
    .argument('<id>')
    .argument('[args...]')
    .passThroughOptions()
    .action((id: string, rest: string[]) => runTool(id, toolArgs(rest)));

  cli
    .command('list')
    .description('installed links, remote installs and dev-root tools, with conflicts and broken manifests')
    .option('--json', 'print as JSON')
    .action((flags: { json?: boolean }) => listCommand(flags));

  cli
    .command('which')
    .description("print a tool's root directory (what f cli <id> runs in)")
    .argument('<id>')
    .option('--json', 'print the resolution as JSON')
    .action(async (id: string, flags: { json?: boolean }) => {
      const { resolveTool } = await import('../../services/tool-install/resolver.js');
      const r = resolveTool(toolPaths(), id);
      if (flags.json) {
        const { printJson } = await import('../output.js');
        const { shadows: _s, guards: _g, ...rest } = r;
        return printJson({ ...rest, shadows: r.shadows.map((c) => ({ kind: c.kind, root: c.root, installId: c.install?.install_id ?? null })) });
      }
      process.stdout.write(`${r.root}\n`);
    });

  cli
    .command('doctor')
    .description('check a tool: manifest, runtime on PATH, build, shim, PATH, conflicts (all tools without <id>)')
    .argument('[id]')
    .option('--json', 'print as JSON')
    .action((id: string | undefined, flags: { json?: boolean }) => doctorCommand(id, flags));

  cli
    .command('uninstall')
    .description("remove a tool's registrations (a link's source is left alone) and its shims")
    .argument('<id>')
    .option('--only <which>', '"link" or an install id, when an id has several registrations')
    .action(async (id: string, flags: { only?: string }) => {
      const paths = toolPaths();
      const { uninstallTool } = await import('../../services/tool-install/uninstall.js');
      const out = await withToolInstall(paths, (entry) => uninstallTool(paths, id, entry, flags.only ?? null));
      process.stdout.write(`Uninstalled ${id} (${out.removed.map((r) => r.installId ?? r.kind).join(', ')})${out.nowActive ? `; f cli ${id} now runs ${out.nowActive}` : ''}\n`);
    });

  cli
    .command('upgrade')
    .description('move a remote install to the newest catalog record of its id, or re-read a linked tool')
    .argument('<id>')
    .option('--catalog <url>', 'catalog base (default: the one it came from, or FLOW_CATALOG_URL)')
    .option('--json', 'print the outcome as JSON')
    .action(async (id: string, flags: { catalog?: string; json?: boolean }) => {
      const paths = toolPaths();
      const { upgradeTool } = await import('../../services/tool-install/upgrade.js');
      const out = await withToolInstall(paths, (entry) => upgradeTool(paths, id, entry, { catalog: flags.catalog }));
      if (flags.json) return (await import('../output.js')).printJson(out);
      say(out.notes);
      if (out.status === 'upgraded') process.stdout.write(`Upgraded ${out.id}${out.installId ? ` to ${out.installId}` : ''}\n`);
    });

  program
    .command('catalog')
    .description(summary('catalog'))
    .command('publish')
    .description('pack a tool, mint a cli_<ulid> and write its record into a static catalog directory')
    .argument('<tool-dir>')
    .requiredOption('--to <catalog-dir>', 'the catalog directory (serve it with any static file server, or f up serves $FLOW_HOME/catalog at /api/catalog/)')
    .option('--version <version>', 'the version to publish (default [install].version or 0.1.0)')
    .option('--json', 'print the record as JSON')
    .action(async (dir: string, flags: { to: string; version?: string; json?: boolean }) => {
      const { publishTool } = await import('../../services/tool-install/publish.js');
      const out = await publishTool(dir, { to: flags.to, version: flags.version });
      if (flags.json) return (await import('../output.js')).printJson(out.record);
      process.stdout.write(`Published ${out.record.id} ${out.record.version} as ${out.record.install_id}\n  ${out.recordPath}\n  ${out.bundlePath}\ninstall it with: f install ${out.record.install_id}\n`);
    });

  program
    .command('ai')
    .description(summary('ai'))
    .command('codex')
    .description('Codex helpers')
    .command('browse')
    .description('browse Codex sessions for a repo (runs the codex-session-browser tool through f cli)')
    .argument('[args...]')
    .passThroughOptions()
    // `f ai codex browse --repo x`: the tool's options are not f's to judge.
    .allowUnknownOption()
    .action((rest: string[]) => runTool('codex-session-browser', ['browse', ...toolArgs(rest)]));
}

async function listCommand(flags: { json?: boolean }): Promise<void> {
  const { listTools } = await import('../../services/tool-install/resolver.js');
  const { printJson, printTable } = await import('../output.js');
  const { defaultHostId } = await import('../../infra/host-id.js');
  const listing = listTools(toolPaths());
  // Installs are per host: these are this host's (a gateway's GET /api/installs lists every host's).
  const host = defaultHostId();
  if (flags.json) return printJson({ host, ...listing });
  printTable(
    listing.tools.map((t) => ({
      id: t.id,
      host,
      kind: t.kind,
      active: t.error ? 'broken' : t.active ? 'yes' : `no (${t.shadowedBy})`,
      version: t.version,
      source: t.kind === 'remote' ? t.installId : t.root,
      description: t.error ?? t.description,
    })),
    ['id', 'host', 'kind', 'active', 'version', 'source', 'description'],
  );
  if (listing.conflicts.length > 0) {
    process.stdout.write('\nConflicts (one id, several sources):\n');
    for (const c of listing.conflicts) process.stdout.write(`  ${c.id}: runs ${c.active}; also ${c.others.join(', ')}\n`);
  }
  if (listing.broken.length > 0) {
    process.stdout.write('\nBroken manifests (skipped):\n');
    for (const b of listing.broken) process.stdout.write(`  ${b.error}\n`);
  }
}

async function doctorCommand(id: string | undefined, flags: { json?: boolean }): Promise<void> {
  const paths = toolPaths();
  const { printJson } = await import('../output.js');
  if (!id) {
    const { listTools } = await import('../../services/tool-install/resolver.js');
    const { binOnPath, pathAdvice } = await import('../../services/tool-install/shims.js');
    const listing = listTools(paths);
    const report = { bin: paths.bin, binOnPath: binOnPath(paths), broken: listing.broken, conflicts: listing.conflicts, brokenRegistrations: listing.tools.filter((t) => t.error) };
    if (flags.json) return printJson(report);
    process.stdout.write(`${report.binOnPath ? 'ok  ' : 'FIX '} PATH: ${report.binOnPath ? `${paths.bin} is on PATH` : pathAdvice(paths)}\n`);
    for (const t of report.brokenRegistrations) process.stdout.write(`FIX  ${t.id} (${t.kind}): ${t.error}\n`);
    for (const b of report.broken) process.stdout.write(`FIX  ${b.error}\n`);
    for (const c of report.conflicts) process.stdout.write(`note ${c.id}: runs ${c.active}; also ${c.others.join(', ')}\n`);
    if (report.brokenRegistrations.length + report.broken.length > 0 || !report.binOnPath) process.exitCode = 1;
    return;
  }
  const { doctorTool } = await import('../../services/tool-install/doctor.js');
  const report = doctorTool(paths, id);
  if (!report.ok) process.exitCode = 1;
  if (flags.json) return printJson(report);
  const lines = [
    `id:        ${report.id}${report.aliases.length ? ` (aliases: ${report.aliases.join(', ')})` : ''}`,
    `source:    ${report.kind ?? '-'} ${report.root ?? ''}`,
    `manifest:  ${report.manifestPath ?? '-'}`,
    `language:  ${report.language ?? '-'}   binary: ${report.binaryName ?? '-'}`,
    `run:       ${report.run?.join(' ') ?? '-'}`,
    ...(report.build ? [`build:     ${report.build.join(' ')}`] : []),
    `env keys:  ${report.envKeys.join(', ') || '-'}`,
    ...report.checks.map((c) => `${c.ok ? 'ok  ' : 'FIX '} ${c.name}: ${c.detail}`),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

const CLI_SUBCOMMANDS = new Set(['run', 'list', 'which', 'doctor', 'uninstall', 'upgrade', 'help']);

/**
 * `f cli <id> [-- args]` without commander (it alone costs ~20 ms of start-up): main.ts may call
 * this before it imports commander. Returns false when argv is anything else (a subcommand, a
 * flag, no id), which commander then parses as usual.
 */
export async function runFromArgv(argv: readonly string[]): Promise<boolean> {
  const [group, id, ...rest] = argv;
  if (group !== 'cli' || !id || id.startsWith('-') || CLI_SUBCOMMANDS.has(id)) return false;
  await runTool(id, toolArgs(rest));
  return true;
}
