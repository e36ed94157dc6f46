import type { EventStore } from '../store/event-store.js';
import { readActor, readActors, type ActorRow } from './actor-projection.js';

/**
 * Actor listings for the API, cached between writes: a list is read and parsed from the
 * projection once, then served from memory until the store's change stamp moves.
 */
export class ActorReadModel {
  private stamp = '';
  private readonly lists = new Map<string, ActorRow[]>();

  constructor(private readonly store: EventStore) {}

  listActors(streamType: string): ActorRow[] {
    this.revalidate();
    let list = this.lists.get(streamType);
    if (!list) {
      list = readActors(this.store.db, streamType);
      this.lists.set(streamType, list);
    }
    return list;
  }

  getActor(streamId: string): ActorRow | undefined {
    this.revalidate();
    const streamType = streamId.slice(0, streamId.indexOf(':'));
    const cached = this.lists.get(streamType);
    return cached ? cached.find((r) => r.streamId === streamId) : readActor(this.store.db, streamId);
  }

  private revalidate(): void {
    const now = this.store.changeStamp();
    if (now !== this.stamp) {
      this.stamp = now;
      this.lists.clear();
    }
  }
}
