import { request } from './client.js';

/**
 * Reads an SSE stream of the running Flow (a path under its URL) until the server ends it.
 * Returning means the stream ended while the caller still wanted it: Flow stopped, or the
 * connection was cut. The caller says so; Ctrl+C ends the process before this returns.
 */
export async function followSse(path: string, onMessage: (event: string, data: string, id: string | undefined) => void, headers: Record<string, string> = {}): Promise<void> {
  const [{ createParser }, res] = await Promise.all([import('eventsource-parser'), request('GET', path, { headers: { accept: 'text/event-stream', ...headers } })]);
  if (res.statusCode !== 200) {
    let text = '';
    for await (const chunk of res) text += String(chunk);
    let message = `${res.statusCode} ${res.statusMessage ?? ''}`.trim();
    try {
      message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message;
    } catch {
      // not JSON: the status says enough
    }
    throw new Error(message);
  }
  const parser = createParser({ onEvent: (e) => onMessage(e.event ?? 'message', e.data, e.id) });
  res.setEncoding('utf8');
  try {
    for await (const chunk of res) parser.feed(chunk as string);
  } catch {
    // A connection cut mid-stream (Flow killed) ends the stream like a clean close does.
  }
}
