import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * Which Host a server answers to. DNS rebinding makes a name the attacker owns resolve to
 * 127.0.0.1: the browser then treats the local server as part of the attacker's site (same
 * origin, so CORS and an Origin == Host check let it through), but the Host header still names
 * the attacker's domain. Answering only names that the user chose closes that door. Pure (no
 * I/O), so the gateway and the relay share it without importing each other.
 */

/** A Host header, or an allow-list entry, taken apart. `name` is lower case, IPv6 without brackets. */
export interface HostName {
  name: string;
  /** null when the header names no port (the scheme's default). */
  port: number | null;
}

const REG_NAME = /^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*$/;
const PORT = /^\d{1,5}$/;

/**
 * `name`, `name:port`, `1.2.3.4:port`, `[::1]:port`. Anything else (userinfo, a path, spaces,
 * percent-encoding, an empty port) is malformed: a browser never sends it, so neither is guessed at.
 */
export function parseHostName(value: string): HostName | null {
  const v = value.toLowerCase();
  let name: string;
  let rest: string;
  if (v.startsWith('[')) {
    const end = v.indexOf(']');
    if (end < 0) return null;
    name = v.slice(1, end);
    if (isIP(name) !== 6) return null;
    rest = v.slice(end + 1);
  } else {
    const colon = v.indexOf(':');
    name = colon < 0 ? v : v.slice(0, colon);
    rest = colon < 0 ? '' : v.slice(colon);
    if (!REG_NAME.test(name) || name.length > 253) return null;
  }
  if (rest === '') return { name, port: null };
  if (!rest.startsWith(':') || !PORT.test(rest.slice(1))) return null;
  const port = Number(rest.slice(1));
  return port >= 1 && port <= 65535 ? { name, port } : null;
}

/** Names that only ever mean this machine: no DNS answer can make them point elsewhere. */
export function isLoopbackName(name: string): boolean {
  const n = name.toLowerCase();
  if (n === 'localhost' || n === '::1') return true;
  if (isIP(n) === 4) return n.startsWith('127.');
  // IPv4-mapped loopback, which Node reports as ::ffff:127.0.0.1.
  return isIP(n) === 6 && /^::ffff:127\./.test(n);
}

/** An allow-list entry: a name at any port, or at one port. */
export type AllowedHost = HostName;

/** `FLOW_ALLOWED_HOSTS=flow.lan,dev.example.com:8443,[fd00::1]:3456`: names, each with an optional port. */
export const AllowedHostsSchema = z.string().transform((csv, ctx): AllowedHost[] => {
  const entries: AllowedHost[] = [];
  for (const raw of csv.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const parsed = parseHostName(item);
    if (!parsed) {
      ctx.addIssue({ code: 'custom', message: `"${item}" is not a host name: write a name or name:port such as flow.lan or flow.lan:3456 (no scheme, no path)` });
      continue;
    }
    entries.push(parsed);
  }
  return entries;
});

export function formatHost(h: HostName): string {
  const name = h.name.includes(':') ? `[${h.name}]` : h.name;
  return h.port === null ? name : `${name}:${h.port}`;
}

export interface HostPolicy {
  /**
   * The port the connection came in on. Loopback names must carry it: a page on another local
   * port never talks to this server with that server's Host. null when unknown (a request
   * injected in-process has no socket), then the port is not judged.
   */
  localPort: number | null;
  /** The local address the connection came in on; an IP literal equal to it is the address the client dialled. */
  localAddress?: string | null;
  /** Names the user allowed (FLOW_ALLOWED_HOSTS) or that the server knows expose it. */
  allowed: readonly AllowedHost[];
  /** Loopback names at any port (a server usually reached through a local TLS front, like the relay). */
  anyLoopbackPort?: boolean;
  /**
   * "1.0" requests may omit Host (nothing to rebind without one); HTTP/1.1 must send it. Any
   * other version is refused: Node reads "GET /\n…" as an HTTP/0.9 request line and the rest of
   * the target as a header, so what the router matched is not what the client sent.
   */
  httpVersion?: string;
}

export type HostVerdict = { ok: true; host: HostName | null } | { ok: false; reason: 'version' | 'missing' | 'malformed' | 'not-allowed'; host: HostName | null };

function portMatches(want: number | null, got: number | null): boolean {
  return want === null || want === got;
}

/** HTTP/1.0 or 1.1: anything else off a socket is a request line cut short (see HostPolicy.httpVersion). */
export const isHttp1 = (version: string): boolean => version === '1.1' || version === '1.0';

/** The refusal of a request line that is not HTTP/1.x, for servers that answer before any route. */
export const NOT_HTTP1: Extract<HostVerdict, { ok: false }> = { ok: false, reason: 'version', host: null };

/** Whether a request naming `header` as its Host is for this server. */
export function judgeHost(header: string | undefined, policy: HostPolicy): HostVerdict {
  if (policy.httpVersion !== undefined && !isHttp1(policy.httpVersion)) return NOT_HTTP1;
  if (header === undefined || header.trim() === '') {
    if (header === undefined && policy.httpVersion === '1.0') return { ok: true, host: null };
    return { ok: false, reason: 'missing', host: null };
  }
  const host = parseHostName(header.trim());
  if (!host) return { ok: false, reason: 'malformed', host: null };
  // A Host without a port means the scheme's default; for a loopback name that must be where we listen.
  const port = host.port ?? 80;
  const local = policy.localPort;
  if (isLoopbackName(host.name) && (policy.anyLoopbackPort || local === null || port === local)) return { ok: true, host };
  // An IP literal cannot be rebound: the one the client dialled (a LAN bind) is this server.
  if (isIP(host.name) !== 0 && policy.localAddress && normalizeIp(policy.localAddress) === normalizeIp(host.name) && (local === null || port === local)) return { ok: true, host };
  if (policy.allowed.some((a) => a.name === host.name && portMatches(a.port, host.port))) return { ok: true, host };
  return { ok: false, reason: 'not-allowed', host };
}

function normalizeIp(ip: string): string {
  const v = ip.toLowerCase();
  return v.startsWith('::ffff:') && isIP(v.slice(7)) === 4 ? v.slice(7) : v;
}

/** The sentence a refused client reads: what was refused and how to allow it. */
export function refusalMessage(verdict: Extract<HostVerdict, { ok: false }>, what: { envVar?: string; accepted: string }): string {
  if (verdict.reason === 'version') return 'the request line is not "METHOD target HTTP/1.1" (a raw line break or control character in the target ends it early): percent-encode the target';
  if (verdict.reason === 'missing') return 'the request has no Host header; send one naming this server (e.g. Host: 127.0.0.1:3456)';
  if (verdict.reason === 'malformed') return 'the Host header is not a host name or host:port';
  const named = formatHost(verdict.host!);
  const allow = what.envVar ? `; if you reach this server under that name on purpose, allow it with ${what.envVar}=${named}` : '';
  return `this server does not answer to the host name "${named}" (it answers to ${what.accepted})${allow}`;
}
