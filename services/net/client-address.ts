import { BlockList, isIP } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';

/**
 * Which client sent a request, for per-client limits (login attempts, relay registrations).
 *
 * The peer address, unless the peer is a proxy we trust: loopback always (cloudflared runs on
 * this machine and reaches Flow from 127.0.0.1; a relay's traffic arrives through it; a TLS
 * terminator in front of `f relay` usually sits there too), plus the addresses in
 * FLOW_TRUSTED_PROXIES. Through a trusted proxy the forwarded chain is read from the right and
 * the first address that is not a trusted proxy is the client: each proxy appends what it saw,
 * and only the left of X-Forwarded-For is the client's own writing, so the left is never believed.
 */
export interface TrustedProxies {
  trusts(address: string): boolean;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** A proxy writes one address per hop; more than this is someone padding the header. */
const MAX_HOPS = 16;

/** "1.2.3.4", "::ffff:1.2.3.4", "[::1]:80", "1.2.3.4:5678" → the bare address, or null if it is none. */
export function bareAddress(raw: string): string | null {
  let a = raw.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(a);
  if (bracketed) a = bracketed[1]!;
  else if (/^\d{1,3}(?:\.\d{1,3}){3}:\d+$/.test(a)) a = a.slice(0, a.lastIndexOf(':'));
  a = a.replace(/%.*$/, '').toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(a);
  if (mapped) a = mapped[1]!;
  return isIP(a) ? a : null;
}

function family(address: string): 'ipv4' | 'ipv6' {
  return isIP(address) === 4 ? 'ipv4' : 'ipv6';
}

export const TrustedProxiesSchema = z
  .string()
  .transform((s) => s.split(',').map((p) => p.trim()).filter(Boolean))
  .pipe(
    z.array(
      z.string().refine((entry) => {
        const [addr, bits, extra] = entry.split('/');
        const bare = addr ? bareAddress(addr) : null;
        if (!bare || extra !== undefined) return false;
        if (bits === undefined) return true;
        const n = Number(bits);
        return /^\d{1,3}$/.test(bits) && n <= (isIP(bare) === 4 ? 32 : 128);
      }, 'each entry is an IP address or a CIDR block, such as 10.0.0.5 or 192.168.0.0/16'),
    ),
  );

/** Loopback plus the addresses and blocks given (e.g. the relay's address, "10.0.0.0/8"). */
export function trustedProxies(entries: readonly string[] = []): TrustedProxies {
  const extra = new BlockList();
  for (const entry of entries) {
    const [addr, bits] = entry.split('/') as [string, string | undefined];
    const bare = bareAddress(addr)!;
    if (bits === undefined) extra.addAddress(bare, family(bare));
    else extra.addSubnet(bare, Number(bits), family(bare));
  }
  return { trusts: (address) => LOOPBACK.check(address, family(address)) || (entries.length > 0 && extra.check(address, family(address))) };
}

/** FLOW_TRUSTED_PROXIES: a comma-separated list of addresses or CIDR blocks trusted besides loopback. */
export function trustedProxiesFromEnv(env: NodeJS.ProcessEnv = process.env): TrustedProxies {
  const raw = env.FLOW_TRUSTED_PROXIES;
  if (!raw?.trim()) return trustedProxies();
  const parsed = TrustedProxiesSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`FLOW_TRUSTED_PROXIES: ${parsed.error.issues[0]!.message} (got ${JSON.stringify(raw)})`);
  return trustedProxies(parsed.data);
}

function headerValues(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(','));
}

/**
 * The client's address. Only X-Forwarded-For is read: Cloudflare's edge appends the address it
 * saw to it (what cloudflared then hands to Flow), and so does the relay. Headers such as
 * CF-Connecting-IP are not, because a proxy that does not set them passes on the client's own.
 */
export function clientAddress(peer: string | undefined, headers: IncomingHttpHeaders, trusted: TrustedProxies): string {
  const self = (peer && bareAddress(peer)) ?? 'unknown';
  if (self === 'unknown' || !trusted.trusts(self)) return self;
  const hops = headerValues(headers['x-forwarded-for']).slice(-MAX_HOPS);
  let client = self;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = bareAddress(hops[i]!);
    // A hop that is no address was written by someone we cannot vouch for: stop at the last proxy that wrote one.
    if (!hop) break;
    client = hop;
    if (!trusted.trusts(hop)) break;
  }
  return client;
}

/**
 * The key a limit counts under. One IPv6 host usually holds a whole /64, so it is counted as
 * one client; an IPv4 address (often a NAT) and link-local or loopback addresses stand alone.
 */
export function clientKey(address: string): string {
  if (isIP(address) !== 6 || /^(?:fe[89ab]|::1$)/.test(address)) return address;
  const [head, tail] = address.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const rightCount = right.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - rightCount)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}
