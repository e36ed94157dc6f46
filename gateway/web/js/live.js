import { api } from './api.js';

/**
 * One Server-Sent Events connection to /api/events for the whole dashboard, shared by every page.
 *
 * It remembers the epoch (from `hello`) and the position of the last event, and reconnects by
 * itself, asking for `?from=<position>&epoch=<epoch>`: the server replays exactly what was
 * missed, then goes live. Reconnecting is done here rather than by EventSource's own retry
 * because that retry reuses the first URL, which carries no epoch, so a log replaced while we
 * were away would go unnoticed. A `reset` (another epoch) means our position is meaningless:
 * pages re-read their data and the stream reopens from the new head.
 */
class LiveEvents {
  constructor() {
    this.source = null;
    this.epoch = null;
    this.position = null;
    this.state = 'connecting';
    this.retryMs = 500;
    this.retryTimer = null;
    this.stopped = true;
    this.listeners = new Set();
    this.stateListeners = new Set();
    this.resyncListeners = new Set();
    this.liveListeners = new Set();
  }

  /**
   * fn(item) for live messages that are not log events (the task board's file changes): SSE
   * `event: live`, no id and no position, so they never move where we resume from.
   */
  onLive(fn) {
    this.liveListeners.add(fn);
    return () => this.liveListeners.delete(fn);
  }

  /** fn(envelope) for every event; filter by `streamType` / `streamId` in fn. */
  on(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** fn(state): 'connecting' | 'live' | 'reconnecting'. */
  onState(fn) {
    this.stateListeners.add(fn);
    fn(this.state);
    return () => this.stateListeners.delete(fn);
  }

  /** fn() after a reset or a reconnect: re-read whatever the page shows. */
  onResync(fn) {
    this.resyncListeners.add(fn);
    return () => this.resyncListeners.delete(fn);
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.source?.close();
    this.source = null;
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    document.documentElement.dataset.live = state;
    for (const fn of this.stateListeners) fn(state);
  }

  /** Also on <html data-live-position>, so a person (or a test) can see how far the page has read. */
  setPosition(position) {
    this.position = position;
    document.documentElement.dataset.livePosition = String(position);
  }

  url() {
    const q = new URLSearchParams();
    if (this.position !== null) q.set('from', String(this.position));
    if (this.epoch !== null) q.set('epoch', this.epoch);
    const qs = q.toString();
    return qs ? `/api/events?${qs}` : '/api/events';
  }

  open() {
    const source = new EventSource(this.url());
    this.source = source;
    let reconnected = false;
    source.addEventListener('hello', (msg) => {
      const hello = JSON.parse(msg.data);
      reconnected = this.epoch !== null;
      this.epoch = hello.epoch;
      this.setPosition(hello.from);
      this.retryMs = 500;
      this.setState('live');
      if (reconnected) for (const fn of this.resyncListeners) fn();
    });
    source.addEventListener('reset', (msg) => {
      // The server would now replay its whole log; we only want what comes next.
      const reset = JSON.parse(msg.data);
      source.close();
      this.epoch = reset.epoch;
      this.setPosition(reset.head);
      for (const fn of this.resyncListeners) fn();
      this.open();
    });
    source.addEventListener('live', (msg) => {
      const item = JSON.parse(msg.data);
      for (const fn of this.liveListeners) fn(item);
    });
    source.onmessage = (msg) => {
      const event = JSON.parse(msg.data);
      this.setPosition(event.position);
      for (const fn of this.listeners) fn(event);
    };
    source.onerror = () => {
      if (source !== this.source) return;
      source.close();
      this.source = null;
      this.setState('reconnecting');
      if (this.stopped) return;
      // A 401 ends an EventSource with no status to read: ask the API, which shows the login.
      api('/api/events/log?limit=1').catch(() => {});
      this.retryTimer = setTimeout(() => this.open(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 8000);
    };
  }
}

export const live = new LiveEvents();

/** Subscribes fn to events of one stream type (or of one stream), returns the unsubscribe. */
export function onStreamType(streamType, fn) {
  return live.on((e) => {
    if (e.streamType === streamType) fn(e);
  });
}
