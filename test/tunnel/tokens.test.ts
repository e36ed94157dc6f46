import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileTokenStore, memoryTokenStore, parseTokenKey, type TokenStore } from '../../services/tunnel/tokens.js';
import { tempDir } from '../support/tmp.js';

/** The token store says which handles this Flow holds (what it may rename or release), never the tokens. */
const tmp = tempDir('flow-relay-tokens-');
afterAll(() => tmp.cleanup());

let files = 0;
const stores: [string, () => TokenStore][] = [
  ['in memory', () => memoryTokenStore()],
  ['in a file', () => fileTokenStore(join(tmp.dir, `tokens-${++files}.json`))],
];

describe.each(stores)('list (%s)', (_name, make) => {
  it('is empty at first, then names each held handle by relay origin, tier and username, sorted', () => {
    const store = make();
    expect(store.list()).toEqual([]);
    store.set({ url: 'https://relay.example.test/some/path', username: 'zed', tier: 'premium' }, 'secret-1');
    store.set({ url: 'http://127.0.0.1:8787', username: 'ana', tier: 'free' }, 'secret-2');
    store.set({ url: 'https://relay.example.test', username: 'ana', tier: 'premium' }, 'secret-3');
    expect(store.list()).toEqual([
      { relay: 'http://127.0.0.1:8787', tier: 'free', username: 'ana' },
      { relay: 'https://relay.example.test', tier: 'premium', username: 'ana' },
      { relay: 'https://relay.example.test', tier: 'premium', username: 'zed' },
    ]);
    expect(JSON.stringify(store.list())).not.toContain('secret');
  });

  it('forgets a deleted handle', () => {
    const store = make();
    const cfg = { url: 'https://relay.example.test', username: 'bea', tier: 'free' as const };
    store.set(cfg, 't');
    store.delete(cfg);
    expect(store.list()).toEqual([]);
  });
});

describe('a token file edited by hand', () => {
  it('lists only the keys that name a handle', () => {
    const path = join(tmp.dir, 'edited.json');
    writeFileSync(path, JSON.stringify({ 'https://r.example.test|premium|ok': 't', 'no pipes': 't', 'https://r.example.test|gold|x': 't', 'not a url|free|y': 't', 'https://r.example.test|free|': 't' }));
    expect(fileTokenStore(path).list()).toEqual([{ relay: 'https://r.example.test', tier: 'premium', username: 'ok' }]);
    // Listing changes nothing in the file.
    expect(Object.keys(JSON.parse(readFileSync(path, 'utf8')) as object)).toHaveLength(5);
  });

  it('parseTokenKey is the inverse of the key tunnels use', () => {
    expect(parseTokenKey('http://127.0.0.1:9|free|cid-2')).toEqual({ relay: 'http://127.0.0.1:9', tier: 'free', username: 'cid-2' });
    expect(parseTokenKey('a|b|c|d')).toBeNull();
  });
});
