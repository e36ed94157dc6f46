import { liveSubjects } from '../../services/bus/names.js';
import type { LiveBus, LiveMessage } from '../../services/bus/types.js';
import type { FeedRequest } from './event-feed.js';

/**
 * Live messages (not in the log, no position, not replayed) that /api/events and /api/ws carry
 * next to the log's events. Only the board's: backend output lines have their own follow
 * endpoint and would flood every client.
 */
export const STREAMED_LIVE_PATTERN = liveSubjects.taskboard.all;

/** What a client receives: SSE `event: live` with this as data, WS `{type:"live", ...this}`. */
export interface LiveItem {
  subject: string;
  /** The subject's stream type (`flow.live.<streamType>.…`), for the same filter events use. */
  streamType: string;
  /** When the message concerns one stream (a task board session: `taskboard:<session>`). */
  stream?: string;
  data: unknown;
}

export function liveItem(msg: LiveMessage): LiveItem {
  const streamType = liveSubjects.parse(msg.subject)?.streamType ?? '';
  const stream = (msg.data as { stream?: unknown } | null)?.stream;
  return { subject: msg.subject, streamType, ...(typeof stream === 'string' ? { stream } : {}), data: msg.data };
}

/** The event filter, applied to live messages: a filtered client gets only what it asked for. */
export function liveMatches(req: Pick<FeedRequest, 'streamType' | 'stream'>, item: LiveItem): boolean {
  if (req.streamType !== undefined && req.streamType !== item.streamType) return false;
  if (req.stream !== undefined && req.stream !== item.stream) return false;
  return true;
}

/**
 * One bus subscription per bus, shared by every client: the in-process bus matches each
 * publish against each subscription, and a thousand clients would make every backend output
 * line cost a thousand pattern matches.
 */
const fanouts = new WeakMap<LiveBus, { listeners: Set<(item: LiveItem) => void>; unsubscribe: () => void }>();

/** Calls `deliver` for each matching live message until the returned function is called. */
export function subscribeLive(bus: LiveBus, req: Pick<FeedRequest, 'streamType' | 'stream'>, deliver: (item: LiveItem) => void): () => void {
  let fan = fanouts.get(bus);
  if (!fan) {
    const listeners = new Set<(item: LiveItem) => void>();
    const unsubscribe = bus.subscribe(STREAMED_LIVE_PATTERN, (msg) => {
      const item = liveItem(msg);
      for (const l of [...listeners]) l(item);
    });
    fan = { listeners, unsubscribe };
    fanouts.set(bus, fan);
  }
  const listener = (item: LiveItem): void => {
    if (liveMatches(req, item)) deliver(item);
  };
  fan.listeners.add(listener);
  const owner = fan;
  return () => {
    owner.listeners.delete(listener);
    if (owner.listeners.size === 0 && fanouts.get(bus) === owner) {
      owner.unsubscribe();
      fanouts.delete(bus);
    }
  };
}
