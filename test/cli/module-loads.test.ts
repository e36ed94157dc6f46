import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../services/store/db.js';
import { F_BIN, requireBuild } from '../support/flow-process.js';
import { tempDir } from '../support/tmp.js';

/**
 * A CLI command loads only what it needs (issue 13 item 4): asserted on WHICH modules load, never
 * on how long they take. The process runs with loader hooks that record every resolved module.
 */
const RECORDER = join(process.cwd(), 'test/support/record-loads.mjs');

function loads(args: string[], given?: (home: string) => void): { code: number | null; modules: string[] } {
  requireBuild();
  const t = tempDir('flow-loads-');
  try {
    given?.(t.dir);
    const file = join(t.dir, 'loads.txt');
    // FLOW_URL at a closed port: an HTTP command fails fast, after loading what it loads.
    const r = spawnSync(process.execPath, ['--import', RECORDER, F_BIN, ...args], {
      env: { ...process.env, FLOW_HOME: t.dir, FLOW_URL: 'http://127.0.0.1:9', FLOW_RECORD_LOADS: file },
      encoding: 'utf8',
    });
    return { code: r.status, modules: [...new Set(readFileSync(file, 'utf8').trim().split('\n'))] };
  } finally {
    t.cleanup();
  }
}

const HEAVY = [/node_modules\/fastify\//, /node_modules\/xstate\//, /node_modules\/better-sqlite3\//, /node_modules\/bullmq\//, /node_modules\/ioredis\//, /node_modules\/@nats-io\//, /node_modules\/zod\//, /\/dist\/gateway\//, /\/dist\/actors\//, /\/dist\/services\/store\//];

function heavy(modules: string[], allowed: RegExp[] = []): string[] {
  return modules.filter((m) => HEAVY.some((h) => h.test(m)) && !allowed.some((a) => a.test(m)));
}

describe('what a CLI command loads', () => {
  it('the recorder sees the modules a command loads (commander, the backend group)', () => {
    const r = loads(['backend', 'ls', '--help']);
    expect(r.code).toBe(0);
    expect(r.modules.some((m) => m.includes('/node_modules/commander/'))).toBe(true);
    expect(r.modules.some((m) => m.endsWith('/dist/cli/commands/backend.js'))).toBe(true);
  });

  it.each([[['--help']], [['backend', 'ls', '--help']], [['backend', 'ls']], [['instance', 'ls']], [['tunnel', 'ls']], [['events', 'tail', '--help']]])(
    'f %j loads no fastify, xstate, SQLite, queue, NATS, zod, gateway, actor or store module',
    (args) => {
      const r = loads(args);
      expect(heavy(r.modules)).toEqual([]);
      // Only the command group named is loaded; f --help lists the commands from cli/command-list.ts and loads none.
      const groups = r.modules.filter((m) => /\/dist\/cli\/commands\//.test(m)).map((m) => m.split('/').pop());
      expect(groups).toEqual(args[0] === '--help' ? [] : [`${args[0] === 'instance' ? 'opencode' : args[0]}.js`]);
    },
  );

  it('f events tail reads SQLite but loads no machine, zod or the writing store', () => {
    const r = loads(['events', 'tail', '-n', '20']);
    // No log in an empty FLOW_HOME: it says so (after loading its reader).
    expect(r.code).toBe(1);
    expect(heavy(r.modules, [/node_modules\/better-sqlite3\//, /\/dist\/services\/store\/(read-only-log|db|sqlite|read|filter|subscriptions)\.js$/])).toEqual([]);
  });

  it('given a log, f events tail opens it with the addon named, not searched for by the bindings package', () => {
    const r = loads(['events', 'tail', '-n', '20'], (home) => openDatabase(join(home, 'flow.db')).close());
    expect(r.code).toBe(0);
    expect(r.modules.some((m) => m.endsWith('/better_sqlite3.node') || m.includes('/node_modules/better-sqlite3/lib/'))).toBe(true);
    expect(r.modules.filter((m) => /node_modules\/(bindings|file-uri-to-path)\//.test(m))).toEqual([]);
  });

  it('f cli list reads manifests with zod but loads no machine: the tool-install schemas come without xstate', () => {
    const r = loads(['cli', 'list']);
    expect(r.code).toBe(0);
    expect(r.modules.filter((m) => /node_modules\/xstate\/|\/dist\/actors\/(?!tool-install\/events\.js$)/.test(m))).toEqual([]);
  });
});
