import { summary } from '../command-summaries.js';
import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { apiBase } from '../client.js';
import { notRunningMessage } from '../not-running.js';
import { printJson } from '../output.js';
import { flowHome } from '../../infra/locations.js';

export function register(program: Command): void {
  program
    .command('apply [file]')
    .description(summary('apply'))
    .option('--dry-run', 'show the plan only; change nothing')
    .option('--json', 'print the plan and what was done as JSON')
    .action(async (file: string | undefined, opts: { dryRun?: boolean; json?: boolean }) => {
      const { loadFlowFile, FLOW_FILE } = await import('../flow-file/load.js');
      const { applyFlowFile, callAt } = await import('../flow-file/apply.js');
      let path = resolve(file ?? FLOW_FILE);
      if (existsSync(path) && statSync(path).isDirectory()) path = join(path, FLOW_FILE);
      const loaded = loadFlowFile(path);
      const lines: string[] = [];
      const result = await applyFlowFile({
        call: callAt(apiBase(), notRunningMessage(apiBase())),
        home: flowHome(),
        file: loaded,
        dryRun: !!opts.dryRun,
        out: (l) => (opts.json ? lines.push(l) : process.stdout.write(`${l}\n`)),
      });
      if (opts.json) printJson({ ...result, plan: result.plan.map(({ action, kind, name, ...rest }) => ({ action, kind, name, changes: 'changes' in rest ? rest.changes : undefined })), done: result.done.map(({ action, kind, name }) => ({ action, kind, name })) });
      if (result.failed.length) {
        process.stderr.write(`f: ${result.failed.length} step${result.failed.length > 1 ? 's' : ''} failed (see above); run f apply again once fixed\n`);
        process.exitCode = 1;
      }
    });
}
