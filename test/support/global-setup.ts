import { randomUUID } from 'node:crypto';
import { processesWhere } from './proc-scan.js';

/**
 * No test leaves a process behind. The setup marks the run (FLOW_TEST_RUN=<id> in the
 * environment, which every worker and every process a test starts inherits, down to
 * grandchildren); the teardown, once every test file has finished, looks in /proc for living
 * processes that carry the mark. Any still there after a short grace is killed, listed, and the
 * run fails.
 */

export const RUN_MARK = 'FLOW_TEST_RUN';
/** Which test file and test were running when the process was started (test/support/each-file.ts). */
export const TEST_MARK = 'FLOW_TEST_NAME';
const GRACE_MS = 5000;

interface Marked {
  pid: number;
  ppid: number;
  command: string;
  test: string | null;
}

// Every project runs the global setup files, in one process: one run, one id, one check.
const run = globalThis as { flowTestRun?: { id: string; checked: boolean } };

export function setup(): void {
  run.flowTestRun ??= { id: `${process.pid}-${randomUUID()}`, checked: false };
  process.env[RUN_MARK] = run.flowTestRun.id;
}

/** Living processes carrying this run's mark, but for this process and its own workers. */
export function markedProcesses(id: string): Marked[] {
  return (
    processesWhere((env) => env.get(RUN_MARK) === id)
      // Vitest's own workers (children of this process) are closed by vitest after the teardown.
      .filter((p) => p.ppid !== process.pid)
      .map((p) => ({ pid: p.pid, ppid: p.ppid, command: p.command, test: p.env.get(TEST_MARK) ?? null }))
  );
}

export async function teardown(): Promise<void> {
  const current = run.flowTestRun;
  if (!current || current.checked) return;
  current.checked = true;
  // A process a test just stopped may take a moment to go.
  const deadline = Date.now() + GRACE_MS;
  let left = markedProcesses(current.id);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    left = markedProcesses(current.id);
  }
  if (left.length === 0) return;
  for (const p of left) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  const list = left.map((p) => `  pid ${p.pid} (parent ${p.ppid})${p.test ? `, started during ${p.test}` : ''}: ${p.command}`).join('\n');
  process.stderr.write(`\nThe tests left ${left.length} process(es) running (now killed); every process a test starts must be stopped by it:\n${list}\n\n`);
  // Vitest logs an error thrown here but still exits 0: fail the run explicitly.
  process.exitCode = 1;
}
