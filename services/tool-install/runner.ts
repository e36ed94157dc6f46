import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
// node:tty rides on node:net, which child_process has loaded already; process.stdin would build a stream.
import { isatty } from 'node:tty';
import { ToolError } from './errors.js';

export interface ToolExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Signals `f` passes on to the tool. SIGINT and SIGQUIT are only passed on when stdin is not a
 * terminal: from a terminal, Ctrl-C already reaches the whole foreground process group (the tool
 * included), and a second copy would turn a tool's graceful Ctrl-C into a forced one.
 */
const ALWAYS: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'];
const UNLESS_TTY: NodeJS.Signals[] = ['SIGINT', 'SIGQUIT'];

/**
 * Runs the tool as a child with f's stdin, stdout and stderr, the arguments exactly as given,
 * and resolves with how it ended. Node cannot exec(2) in place, so `f` stays as a thin parent
 * that forwards signals; the shim in $FLOW_HOME/bin is the way to run with nothing in between.
 */
export function execTool(id: string, argv: readonly string[], cwd: string, env: Record<string, string>, args: readonly string[]): Promise<ToolExit> {
  if (!existsSync(cwd)) throw new ToolError(`${id}: its root ${cwd} does not exist (f cli doctor ${id})`);
  const child = spawn(argv[0]!, [...argv.slice(1), ...args], {
    cwd,
    env: { ...process.env, FLOW_CALLER_CWD: process.cwd(), ...env },
    stdio: 'inherit',
  });
  const fromTerminal = isatty(0);
  const forwarded = [...ALWAYS, ...(fromTerminal ? [] : UNLESS_TTY)];
  const relay = (sig: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  };
  for (const s of forwarded) process.on(s, relay);
  // From a terminal the tool gets Ctrl-C itself; f must only outlive it, not die first.
  const ignore = () => {};
  if (fromTerminal) for (const s of UNLESS_TTY) process.on(s, ignore);
  const cleanup = () => {
    for (const s of forwarded) process.off(s, relay);
    for (const s of UNLESS_TTY) process.off(s, ignore);
  };
  return new Promise((resolve, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) => {
      cleanup();
      if (err.code === 'ENOENT') {
        process.exitCode = 127;
        reject(new ToolError(`${id}: cannot run "${argv[0]}": not found on PATH (install it, or see f cli doctor ${id})`));
      } else if (err.code === 'EACCES') {
        process.exitCode = 126;
        reject(new ToolError(`${id}: cannot run "${argv[0]}": permission denied`));
      } else reject(err);
    });
    child.on('exit', (code, signal) => {
      cleanup();
      resolve({ code, signal });
    });
  });
}

/** Ends `f` the way the tool ended: its exit code, or death by the same signal. */
export async function exitLikeTool(exit: ToolExit): Promise<void> {
  if (exit.signal) {
    process.removeAllListeners(exit.signal);
    try {
      process.kill(process.pid, exit.signal);
    } catch {
      /* fall through to the shell convention */
    }
    // Loaded only here: node:os costs start-up time on every run.
    const { constants } = await import('node:os');
    process.exitCode = 128 + (constants.signals[exit.signal] ?? 0);
    return;
  }
  process.exitCode = exit.code ?? 1;
}
