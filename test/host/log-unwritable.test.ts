import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { backendStreamId } from '../../actors/backend-child/index.js';
import { fold } from '../../actors/fold.js';
import { kindFor } from '../../actors/index.js';
import { tempDir } from '../support/tmp.js';
import { CRASHY, startHost, waitForEvents } from '../support/host.js';

/**
 * The log cannot be written: the kernel refuses the writes, as it does when the disk is full. What the world does meanwhile (a child exits, a restart timer fires) is
 * not lost: the host holds those observations in order and records them once the log can be
 * written again. Commands are refused meanwhile with `unavailable` and a message that says why
 * and what to do, and nothing of theirs is written.
 */
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/**
 * Makes every write of this process past the first byte of a file fail (RLIMIT_FSIZE, as prlimit
 * sets it: the kernel answers EFBIG, as a full disk answers ENOSPC), so SQLite cannot write its
 * log; returns how to lift it. Node ignores SIGXFSZ, so the process lives on.
 */
function fillTheDisk(): () => void {
  const soft = execFileSync('prlimit', ['--pid', String(process.pid), '--fsize', '--raw', '--noheadings', '--output=SOFT'], { encoding: 'utf8' }).trim();
  execFileSync('prlimit', ['--pid', String(process.pid), '--fsize=1:']);
  return () => execFileSync('prlimit', ['--pid', String(process.pid), `--fsize=${soft}:`]);
}

async function until<T>(what: string, f: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const cfg = (dir: string) => ({ command: [process.execPath, CRASHY], cwd: dir, env: {}, port: null, watch: [], watchExtensions: ['.js'], stopGraceMs: 2000, restart: { maxRestarts: 1, backoffUnitMs: 200, stableAfterMs: 30_000 } });

describe('given the disk under the log is full', () => {
  it('when a child dies and its restart timer fires, then both are recorded in order once the disk has room, and commands meanwhile are refused as unavailable', async () => {
    const t = tempDir();
    const h = await startHost(t.dir);
    cleanups.push(t.cleanup, () => h.close());
    const { host, store, lines } = h;
    const id = backendStreamId('full');
    expect(await host.dispatch({ type: 'backend.create', name: 'full', config: cfg(t.dir), autostart: true })).toMatchObject({ ok: true });
    const started = await waitForEvents(store, id, (ev) => ev.some((e) => e.type === 'PROCESS_STARTED'));
    const pid = started.find((e) => e.type === 'PROCESS_STARTED')!.data.pid as number;
    const before = store.readStream(id).length;

    const free = fillTheDisk();
    cleanups.push(free);
    process.kill(pid, 'SIGKILL');
    await until('the host to say it holds the exit', () => lines.find((l) => l.includes('cannot be written'))).catch((e: unknown) => { throw new Error(`${String(e)}: ${lines.join(' / ')}`); });
    expect(store.readStream(id)).toHaveLength(before);

    const refused = await host.dispatch({ type: 'backend.stop', name: 'full' });
    expect(refused).toEqual({ ok: false, error: { code: 'unavailable', message: expect.stringMatching(/the event log .* cannot be written \(disk I\/O error\): nothing was done; check the disk it lives on \(an I\/O error\), then try again; 1 observation\(s\) of the world wait to be recorded first$/) as unknown as string } });
    const create = await host.dispatch({ type: 'backend.create', name: 'other', config: cfg(t.dir), autostart: false });
    expect(create).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    expect(store.readStream(backendStreamId('other'))).toEqual([]);

    await new Promise((r) => setTimeout(r, 300));
    const freedAt = Date.now();
    free();
    // The exit, then the restart its backoff timer asked for: in the order they happened.
    const events = await waitForEvents(store, id, (ev) => ev.filter((e) => e.type === 'PROCESS_STARTED').length === 2);
    const after = events.slice(before).map((e) => e.type);
    expect(after.slice(0, 3)).toEqual(['PROCESS_EXITED', 'TIMER_FIRED', 'PROCESS_STARTED']);
    expect(events[before]!.data).toMatchObject({ pid, signal: 'SIGKILL' });
    // Its time is when it happened, not when the log could take it.
    expect(Date.parse(events[before]!.at)).toBeLessThan(freedAt);
    expect(events.map((e) => e.version)).toEqual(events.map((_, i) => i + 1));
    await until('the host to say the log is writable again', () => lines.find((l) => l.includes('can be written again')));

    // The live actor is the fold of what was written, and commands work again.
    const live = host.snapshotOf(id)!;
    const folded = fold(kindFor('backend-child')!, store.readStream(id));
    expect(folded.context).toEqual(live.snapshot.context);
    expect(await host.dispatch({ type: 'backend.stop', name: 'full' })).toMatchObject({ ok: true });
  });
});
