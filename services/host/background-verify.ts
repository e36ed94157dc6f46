import { verifyInBackground, type RunningVerify } from '../store/verify-log.js';
import type { Difference } from '../store/verify.js';

/** What the background verifier needs of the host: to fold one actor again in its queue. */
export interface Refolder {
  refold(streamId: string): Promise<boolean>;
}

export interface BackgroundVerify {
  /** Settles when the verification and its repairs are done (or it was stopped): the streams repaired. */
  readonly done: Promise<string[]>;
  stop(): Promise<void>;
}

/**
 * After start (recovery trusted the stored snapshots), the full fold checks them: one worker
 * thread at the lowest priority folds every stream from the log and compares. Each stream that
 * disagrees is logged and folded again by the host in its queue, which rebuilds its projection
 * and replaces the live actor: the log wins.
 */
export function startBackgroundVerify(opts: { path: string; host: Refolder; log: (line: string) => void; nice?: number }): BackgroundVerify {
  const running: RunningVerify | null = verifyInBackground(opts.path, opts.nice ?? 19);
  let stopped = false;
  const done = (async (): Promise<string[]> => {
    if (!running) {
      opts.log('background verification skipped: its worker script is not built (npm run build)');
      return [];
    }
    const result = await running.result;
    if (!result || stopped) return [];
    const byStream = new Map<string, Difference[]>();
    for (const d of result.differences) byStream.set(d.streamId, [...(byStream.get(d.streamId) ?? []), d]);
    const repaired: string[] = [];
    for (const [streamId, diffs] of byStream) {
      if (stopped) break;
      opts.log(`verify: ${streamId}'s stored projection disagrees with its log (${diffs.map((d) => d.problem).join(', ')}); folding it again from the log`);
      if (await opts.host.refold(streamId)) repaired.push(streamId);
    }
    if (byStream.size > 0) opts.log(`verify: ${result.events} events in ${result.streams} streams folded; ${repaired.length} actor(s) repaired from the log`);
    return repaired;
  })().catch((err: unknown) => {
    opts.log(`background verification failed: ${err instanceof Error ? err.message : String(err)}`);
    return [];
  });
  return {
    done,
    stop: async () => {
      stopped = true;
      await running?.stop();
      await done;
    },
  };
}
