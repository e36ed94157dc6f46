import { createParser } from 'eventsource-parser';
import { authHeaders } from './client.js';
import { notRunningMessage } from './not-running.js';

/** Reads an SSE stream until it ends or the process is interrupted. */
export async function followSse(url: string, onMessage: (event: string, data: string, id: string | undefined) => void, headers: Record<string, string> = {}): Promise<void> {
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...authHeaders(), ...headers } }).catch(() => {
    throw new Error(notRunningMessage(new URL(url).origin));
  });
  if (!res.ok || !res.body) throw new Error(`${url}: ${res.status} ${res.statusText}`);
  const parser = createParser({ onEvent: (e) => onMessage(e.event ?? 'message', e.data, e.id) });
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
}
