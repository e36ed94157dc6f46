import { connect } from 'node:net';

/** What came back for a request written byte for byte on a fresh socket. */
export interface WireReply {
  status: number;
  head: string;
  body: string;
}

/**
 * Writes `lines` (the request line and headers, no CRLFs) and `body` on a new TCP connection and
 * reads the reply. No HTTP client in between: nothing normalizes the path, fills in a Host, or
 * refuses an absolute-form target. Resolves once the headers of an upgrade answer are in, or
 * when the server ends the connection (every request asks for `Connection: close`), or after
 * `timeoutMs` for an answer that never ends.
 */
export function wire(port: number, lines: string[], body = '', timeoutMs = 10_000): Promise<WireReply> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let done = false;
    // A stream (SSE) that was let through never ends: what arrived by then is the answer.
    const timer = setTimeout(() => finish(), timeoutMs);
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const head = end < 0 ? text : text.slice(0, end);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, head, body: end < 0 ? '' : text.slice(end + 4) });
    };
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      // A 101 keeps the socket open: its head is the answer.
      if (/^HTTP\/1\.1 101 /.test(Buffer.concat(chunks).toString('latin1')) && Buffer.concat(chunks).includes('\r\n\r\n')) finish();
    });
    socket.on('end', finish);
    socket.on('close', finish);
    socket.on('error', (err) => (chunks.length ? finish() : reject(err)));
    const hasLength = lines.some((l) => /^content-length:/i.test(l));
    const headers = [...lines, ...(lines.some((l) => /^connection:/i.test(l)) ? [] : ['Connection: close']), ...(body && !hasLength ? [`Content-Length: ${Buffer.byteLength(body)}`] : [])];
    socket.write(`${headers.join('\r\n')}\r\n\r\n${body}`);
  });
}

/** The headers of a WebSocket handshake for `wire`. */
export function upgradeHeaders(): string[] {
  return ['Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='];
}

/** Runs `tasks` with at most `n` in flight (a loaded 2-core machine, thousands of requests). */
export async function pool<T>(n: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, tasks.length) }, async () => {
      while (next < tasks.length) {
        const i = next++;
        out[i] = await tasks[i]!();
      }
    }),
  );
  return out;
}
