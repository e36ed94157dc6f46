import type { SqliteEventStore } from './event-store.js';
import type { ActorListing } from './read-model.js';
import { readHoldings, type StreamHolding } from './replica.js';
import type { ActorRow } from './types.js';

/**
 * Actor listings for the API, cached between writes: a list is read and parsed from the
 * projection once, then served from memory until the store's change stamp moves. In a
 * gateway's replica each row also says which host log wrote it, and whether that log (or the
 * name) has been retired: the projection folds events, the replica's holdings say whose they are.
 */
export class ActorReadModel {
  private stamp = '';
  private readonly lists = new Map<string, ActorListing[]>();
  private holdings: Map<string, StreamHolding> | null = null;

  constructor(private readonly store: SqliteEventStore) {}

  listActors(streamType: string): ActorListing[] {
    this.revalidate();
    let list = this.lists.get(streamType);
    if (!list) {
      list = this.store
        .actors(streamType)
        .filter((r) => !this.holding(r.streamId)?.hidden)
        .map((r) => this.listing(r));
      this.lists.set(streamType, list);
    }
    return list;
  }

  getActor(streamId: string): ActorListing | undefined {
    this.revalidate();
    const streamType = streamId.slice(0, streamId.indexOf(':'));
    const cached = this.lists.get(streamType)?.find((r) => r.streamId === streamId);
    if (cached) return cached;
    const row = this.store.actor(streamId);
    return row && this.listing(row);
  }

  private holding(streamId: string): StreamHolding | undefined {
    this.holdings ??= readHoldings(this.store.db);
    return this.holdings.get(streamId);
  }

  private listing(row: ActorRow): ActorListing {
    const h = this.holding(row.streamId);
    if (!h) return { ...row, epoch: this.store.epoch, retired: null };
    // A retired actor the user removed is gone as far as the API is concerned, as a removed one is.
    const status = h.state === 'dismissed' ? 'removed' : h.retired ? 'retired' : row.status;
    return { ...row, host: h.host, epoch: h.epoch, status, retired: h.retired };
  }

  private revalidate(): void {
    const now = this.store.changeStamp();
    if (now !== this.stamp) {
      this.stamp = now;
      this.lists.clear();
      this.holdings = null;
    }
  }
}
