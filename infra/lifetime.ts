/**
 * How `f up`, `f host` and `f gateway` live and end. A supervisor must outlive everything that
 * can go wrong around it and still stop its children in order: its console going away (the
 * reader of a pipe died: EPIPE; the terminal closed: EIO), the terminal's SIGHUP (often twice:
 * the kernel's and the shell's), Ctrl+C, SIGTERM, and its own bugs (an uncaught exception or
 * an unhandled rejection). All of them lead to the same orderly close; only the exit code
 * differs. SIGPIPE is left as Node sets it, ignored: a reader going away is no reason to stop
 * supervising (the write error it would have signalled is absorbed below).
 */

export interface Closeable {
  close(): Promise<void>;
}

let outputGuarded = false;

/**
 * Failed writes to stdout/stderr never crash the process: without a listener, a stream's
 * 'error' (EPIPE once the reader is gone, EIO once the terminal is) is an uncaught exception.
 * After such an error the stream is destroyed and later writes are dropped quietly.
 */
export function guardConsoleOutput(): void {
  if (outputGuarded) return;
  outputGuarded = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', () => {
      // Nobody is reading any more: there is no one to tell, and supervising goes on.
    });
  }
}

function safeWrite(stream: NodeJS.WriteStream, text: string): void {
  if (stream.destroyed || stream.writableEnded) return;
  try {
    stream.write(text);
  } catch {
    // A log line is never worth an exception.
  }
}

/** Writes to stdout; never throws, whatever became of stdout. */
export function writeOut(text: string): void {
  safeWrite(process.stdout, text);
}

/** Writes to stderr; never throws, whatever became of stderr. */
export function writeErr(text: string): void {
  safeWrite(process.stderr, text);
}

/** A log function for a long-lived process: `[prefix] line` on stderr, never throwing. */
export function stderrLog(prefix: string): (line: string) => void {
  return (line) => writeErr(`[${prefix}] ${line}\n`);
}

/**
 * What a process opened, closed in the reverse order: each thing it opens is deferred as soon as
 * it exists (`life.defer(() => store.close())`), so a start that fails half-way closes exactly
 * what it had opened, and a stop closes the newest first (commands before the app, the app
 * before the host, the host before the bus, the store and, last, the lock). `close()` runs every
 * step even when one fails (a gateway that fails to close must not leave the host's processes
 * running), rethrows the first failure, and is safe to call twice: a second call (a signal
 * during a stop) waits for the same close.
 */
export class Lifetime {
  private readonly steps: (() => unknown)[] = [];
  private closing: Promise<void> | null = null;
  private closed = false;

  /** Runs `step` on close, before everything deferred earlier. */
  defer(step: () => unknown): void {
    if (!this.closed) {
      // While closing, the loop below takes it next.
      this.steps.push(step);
      return;
    }
    // Opened after the close was over (a start that outlived its stop): closed at once. Nobody
    // waits for this close any more, so a failure has no one to go to.
    void (async () => step())().catch(() => {});
  }

  close(): Promise<void> {
    return (this.closing ??= this.closeAll());
  }

  private async closeAll(): Promise<void> {
    let first: unknown = null;
    for (let step = this.steps.pop(); step; step = this.steps.pop()) {
      try {
        await step();
      } catch (err) {
        first ??= err;
      }
    }
    this.closed = true;
    if (first !== null) throw first instanceof Error ? first : new Error(String(first));
  }
}

/**
 * Runs a start with a fresh Lifetime. If the start throws, what it had deferred is closed (in
 * reverse) before the error reaches the caller, which sees the start's error, not a close's.
 */
export async function startWithin<T>(start: (life: Lifetime) => Promise<T>): Promise<T> {
  const life = new Lifetime();
  try {
    return await start(life);
  } catch (err) {
    await life.close().catch(() => {});
    throw err;
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

export interface Started {
  /** Printed on stdout once running. */
  banner: string;
  /** What a stop stops, in user words ("backends and the gateway"). */
  what: string;
}

/**
 * Starts `start()` and runs it until a signal or a crash, then closes it and exits. The guards
 * are in place before the start, so a signal or a broken console during start-up (recovery may
 * already have resumed backends) still ends in an orderly close once the start is done.
 *
 * - SIGINT, SIGTERM, SIGHUP: close, exit 0 (1 if the close failed).
 * - A second SIGINT while closing: exit at once (processes not yet stopped are found and
 *   stopped by the next start, from the PID and start time in the log). A repeated SIGTERM or
 *   SIGHUP does not hurry the close: a closing terminal sends SIGHUP more than once.
 * - An uncaught exception or an unhandled rejection: reported on stderr, close, exit 1.
 */
export async function runUntilSignal<T extends Closeable>(start: () => Promise<T>, describeStarted: (running: T) => Started): Promise<T> {
  guardConsoleOutput();
  let what = 'Flow';
  let closing = false;
  const started = start();
  started.catch(() => {
    // The caller gets this rejection; a stop waiting on it has nothing to close.
  });

  const stop = (reason: string, exitCode: number): void => {
    if (closing) return;
    closing = true;
    writeErr(`${reason}: stopping ${what}...\n`);
    void (async () => {
      let running: T;
      try {
        running = await started;
      } catch {
        return; // the start failed: the caller reports it and the process ends with it
      }
      let code = exitCode;
      try {
        await running.close();
      } catch (err) {
        writeErr(`error while stopping: ${describe(err)}\n`);
        code = code || 1;
      }
      process.exit(code);
    })();
  };

  process.on('SIGINT', () => {
    if (!closing) return stop('SIGINT', 0);
    writeErr('SIGINT again: exiting now\n');
    process.exit(130);
  });
  for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (!closing) return stop(signal, 0);
      writeErr(`${signal}: already stopping (Ctrl+C again exits at once)\n`);
    });
  }
  process.on('uncaughtException', (err) => {
    writeErr(`f: internal error: ${describe(err)}\n`);
    stop('internal error', 1);
  });
  process.on('unhandledRejection', (reason) => {
    writeErr(`f: internal error (unhandled rejection): ${describe(reason)}\n`);
    stop('internal error', 1);
  });

  const running = await started;
  const info = describeStarted(running);
  what = info.what;
  writeOut(`${info.banner}\n`);
  return running;
}
