import http, { type IncomingMessage, type ServerResponse, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';

/**
 * Raw HTTP and WebSocket forwarding, as http-proxy's `web` and `ws` do: the request body is
 * piped, never read, so a POST arrives byte for byte (seed 002's critical constraint); an
 * upgrade is answered by the upstream and then both sockets are spliced.
 */
export interface ForwardTarget {
  /** Where to connect (scheme, host, port), e.g. https://abc.trycloudflare.com. */
  connect: URL;
  /** The Host header the upstream expects (Cloudflare routes by it). */
  host: string;
  /** The path to request upstream (already stripped of any routing prefix), with its query. */
  path: string;
  /** Extra request headers (X-Forwarded-*). */
  headers?: Record<string, string>;
}

// Connection-scoped headers (RFC 9110 §7.6.1) describe one hop and must not be forwarded.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'upgrade']);

function requestHeaders(incoming: IncomingHttpHeaders, target: ForwardTarget, keepUpgrade: boolean): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const listed = String(incoming.connection ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  for (const [k, v] of Object.entries(incoming)) {
    if (v === undefined) continue;
    if (HOP_BY_HOP.has(k) || listed.includes(k)) continue;
    out[k] = v;
  }
  if (keepUpgrade) {
    out.connection = 'Upgrade';
    out.upgrade = incoming.upgrade ?? 'websocket';
  }
  out.host = target.host;
  Object.assign(out, target.headers ?? {});
  return out;
}

function responseHeaders(incoming: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(incoming)) {
    if (v === undefined || k === 'connection' || k === 'keep-alive') continue;
    out[k] = v;
  }
  return out;
}

function transport(url: URL): typeof http | typeof https {
  return url.protocol === 'https:' ? https : http;
}

function requestOptions(target: ForwardTarget, method: string, headers: OutgoingHttpHeaders): http.RequestOptions & https.RequestOptions {
  return {
    protocol: target.connect.protocol,
    hostname: target.connect.hostname.replace(/^\[|\]$/g, ''),
    port: target.connect.port || (target.connect.protocol === 'https:' ? 443 : 80),
    method,
    path: target.path,
    headers,
    // SNI must name the public host, not the address we dial.
    servername: target.host.split(':')[0],
    agent: false,
  };
}

export interface ForwardErrorHandler {
  (err: Error, res: ServerResponse): void;
}

/** Forwards one HTTP request; `onError` answers the client if the upstream cannot be reached. */
export function forwardHttp(req: IncomingMessage, res: ServerResponse, target: ForwardTarget, onError: ForwardErrorHandler): void {
  const upstream = transport(target.connect).request(requestOptions(target, req.method ?? 'GET', requestHeaders(req.headers, target, false)));
  let failed = false;
  const fail = (err: Error) => {
    if (failed) return;
    failed = true;
    if (!res.headersSent) onError(err, res);
    else res.destroy(err);
  };
  upstream.on('error', fail);
  upstream.on('response', (ures) => {
    res.writeHead(ures.statusCode ?? 502, ures.statusMessage, responseHeaders(ures.headers));
    ures.pipe(res);
    ures.on('error', (err) => res.destroy(err));
  });
  // The client went away: stop the upstream too.
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.on('error', () => upstream.destroy());
  req.pipe(upstream);
}

/** Writes a plain HTTP response on a raw socket (for refusing an upgrade), then closes it. */
export function writeSocketResponse(socket: Duplex, status: number, reason: string, body: string, headers: Record<string, string> = {}): void {
  const lines = [`HTTP/1.1 ${status} ${reason}`, 'Connection: close', 'Content-Type: text/plain; charset=utf-8', `Content-Length: ${Buffer.byteLength(body)}`];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  socket.end(lines.join('\r\n') + '\r\n\r\n' + body);
}

/** Forwards a WebSocket (any Upgrade) handshake, then splices the two sockets. */
export function forwardUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, target: ForwardTarget): void {
  const upstream = transport(target.connect).request(requestOptions(target, req.method ?? 'GET', requestHeaders(req.headers, target, true)));
  socket.on('error', () => upstream.destroy());
  upstream.on('error', (err) => {
    if (socket.writable) writeSocketResponse(socket, 502, 'Bad Gateway', `upstream unreachable: ${err.message}\n`);
    else socket.destroy();
  });
  upstream.on('response', (ures) => {
    // The upstream refused to upgrade: relay its answer as is.
    const lines = [`HTTP/1.1 ${ures.statusCode ?? 502} ${ures.statusMessage ?? ''}`];
    for (let i = 0; i < ures.rawHeaders.length; i += 2) lines.push(`${ures.rawHeaders[i]}: ${ures.rawHeaders[i + 1]}`);
    socket.write(lines.join('\r\n') + '\r\n\r\n');
    ures.pipe(socket);
  });
  upstream.on('upgrade', (ures, usocket, uhead) => {
    const lines = [`HTTP/1.1 ${ures.statusCode ?? 101} ${ures.statusMessage ?? 'Switching Protocols'}`];
    for (let i = 0; i < ures.rawHeaders.length; i += 2) lines.push(`${ures.rawHeaders[i]}: ${ures.rawHeaders[i + 1]}`);
    socket.write(lines.join('\r\n') + '\r\n\r\n');
    if (uhead.length > 0) socket.write(uhead);
    if (head.length > 0) usocket.write(head);
    usocket.on('error', () => socket.destroy());
    socket.on('error', () => usocket.destroy());
    usocket.on('close', () => socket.destroy());
    socket.on('close', () => usocket.destroy());
    usocket.pipe(socket).pipe(usocket);
  });
  upstream.end();
}
