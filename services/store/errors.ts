/** The expected version did not match the stream's: nothing was written. */
export class ConcurrencyError extends Error {
  override readonly name = 'ConcurrencyError';
  constructor(
    readonly streamId: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`stream ${streamId} is at version ${actual}, expected ${expected}; nothing was written`);
  }
}

export class StoreClosedError extends Error {
  override readonly name = 'StoreClosedError';
  constructor() {
    super('the event store is closed');
  }
}

/**
 * SQLite could not write for a reason that passes: the disk is full (SQLITE_FULL), an I/O error
 * (SQLITE_IOERR_*), or another writer held the lock past the busy timeout. The transaction was
 * rolled back, so nothing of it was written, and the same write can be tried again later.
 */
export function isPassingWriteFailure(err: unknown): err is Error & { code: string } {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'string' && (code === 'SQLITE_FULL' || code.startsWith('SQLITE_IOERR') || code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED');
}

/** What to do about a passing write failure, in a user's words. */
export function writeFailureRemedy(err: { code: string }): string {
  if (err.code === 'SQLITE_FULL') return 'free disk space where it lives';
  if (err.code === 'SQLITE_BUSY' || err.code === 'SQLITE_LOCKED') return 'another process holds its write lock too long (a second Flow on this FLOW_HOME, or a tool reading it with a write lock?)';
  return 'check the disk it lives on (an I/O error)';
}
