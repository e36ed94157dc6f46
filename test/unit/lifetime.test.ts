import { describe, expect, it } from 'vitest';
import { Lifetime, startWithin } from '../../infra/lifetime.js';

describe('Lifetime: what a process opened, closed in reverse', () => {
  it('given steps deferred as things open, when it closes, then they run last-first', async () => {
    const order: string[] = [];
    const life = new Lifetime();
    for (const name of ['lock', 'store', 'bus', 'host', 'app']) life.defer(() => order.push(name));
    await life.close();
    expect(order).toEqual(['app', 'host', 'bus', 'store', 'lock']);
  });

  it('given a step that fails, then the later ones still run and the first failure is rethrown', async () => {
    const order: string[] = [];
    const life = new Lifetime();
    life.defer(() => order.push('lock'));
    life.defer(() => {
      throw new Error('store would not close');
    });
    life.defer(async () => {
      order.push('host');
      throw new Error('host would not stop');
    });
    await expect(life.close()).rejects.toThrow('host would not stop');
    expect(order).toEqual(['host', 'lock']);
  });

  it('given close() called twice (a signal during a stop), then each step runs once and both calls settle together', async () => {
    let runs = 0;
    let release!: () => void;
    const life = new Lifetime();
    life.defer(() => new Promise<void>((r) => (release = r)).then(() => runs++));
    const first = life.close();
    const second = life.close();
    expect(second).toBe(first);
    release();
    await Promise.all([first, second]);
    await life.close();
    expect(runs).toBe(1);
  });

  it('given something opened after the close began, then it is closed too, not left open', async () => {
    const order: string[] = [];
    const life = new Lifetime();
    life.defer(() => order.push('first'));
    const closing = life.close();
    life.defer(() => order.push('late'));
    await closing;
    await life.close();
    expect(order).toEqual(['first', 'late']);
  });
});

describe('startWithin: a start that fails leaves nothing open', () => {
  it('given a start that throws half-way, then what it opened is closed in reverse and its error is what the caller sees', async () => {
    const order: string[] = [];
    await expect(
      startWithin(async (life) => {
        life.defer(() => order.push('lock'));
        life.defer(() => order.push('store'));
        throw new Error('port 3456 is already in use');
      }),
    ).rejects.toThrow('port 3456 is already in use');
    expect(order).toEqual(['store', 'lock']);
  });

  it('given a start that succeeds, then nothing is closed until the caller closes', async () => {
    const order: string[] = [];
    const running = await startWithin(async (life) => {
      life.defer(() => order.push('store'));
      return { close: () => life.close() };
    });
    expect(order).toEqual([]);
    await running.close();
    expect(order).toEqual(['store']);
  });
});
