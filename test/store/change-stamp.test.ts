import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { EventStore } from '../../services/store/event-store.js';
import { newEvent } from '../support/events.js';
import { tempDir } from '../support/tmp.js';

/**
 * The change stamp read models cache behind (GET /api/backends is served from memory until it
 * moves). SQLite's data_version is read once per turn of the event loop, not per request.
 */
describe('the store change stamp', () => {
  const open: EventStore[] = [];
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    while (open.length) open.pop()!.close();
    while (cleanups.length) cleanups.pop()!();
  });
  const stores = () => {
    const t = tempDir('flow-stamp-');
    cleanups.push(t.cleanup);
    const file = join(t.dir, 'flow.db');
    const a = EventStore.open(file, { host: 'a', pollMs: 0 });
    const b = EventStore.open(file, { host: 'b', pollMs: 0 });
    open.push(a, b);
    return { a, b };
  };

  it('given a read, when this connection writes, then the stamp moves at once (a read model sees its own writes)', () => {
    const { a } = stores();
    const before = a.changeStamp();
    a.append('backend-child', 'backend-child:x', 'any', [newEvent('STOP_REQUESTED')]);
    expect(a.changeStamp()).not.toBe(before);
  });

  it('given a read, when another connection commits, then the stamp moves by the next turn of the event loop', async () => {
    const { a, b } = stores();
    const before = a.changeStamp();
    b.append('backend-child', 'backend-child:y', 'any', [newEvent('STOP_REQUESTED')]);
    // Within the same turn the version read for this turn is reused.
    expect(a.changeStamp()).toBe(before);
    await nextTurn();
    expect(a.changeStamp()).not.toBe(before);
  });

  it('given no write anywhere, then the stamp stays the same across turns (the cache holds)', async () => {
    const { a } = stores();
    const before = a.changeStamp();
    await nextTurn();
    await nextTurn();
    expect(a.changeStamp()).toBe(before);
  });
});
