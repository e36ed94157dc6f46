import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { realpathSync, statSync } from 'node:fs';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { isAbsolute, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ToolError, type ToolStep } from './errors.js';

/**
 * Where a catalog may send Flow. A catalog is trusted for its own records and its own server,
 * nothing more: a record (or a redirect) may lead to the catalog's own origin or to a public
 * host, never to this machine, its link-local neighbours (cloud metadata) or a private network,
 * unless the user says so (FLOW_CLI_ALLOW_LOCAL_BUNDLES=1). A file:// catalog may point only at
 * regular files inside its own directory, links resolved. Names are checked on the addresses
 * they resolve to, at connect time, so a DNS answer cannot slip a local address past the check.
 */
export interface SourcePolicy {
  /** scheme://host:port of an http(s) catalog: always allowed. */
  catalogOrigin: string | null;
  /** The real path of a file:// catalog's directory (and the path as configured). */
  catalogDir: string | null;
  catalogPath?: string;
  allowLocal: boolean;
}

export type AddressClass = 'loopback' | 'link-local' | 'private' | 'public';

const RANGES: [Exclude<AddressClass, 'public'>, string, number, 'ipv4' | 'ipv6'][] = [
  // 0.0.0.0 and :: reach this machine as surely as 127.0.0.1 does.
  ['loopback', '127.0.0.0', 8, 'ipv4'],
  ['loopback', '0.0.0.0', 8, 'ipv4'],
  ['loopback', '::1', 128, 'ipv6'],
  ['loopback', '::', 128, 'ipv6'],
  ['link-local', '169.254.0.0', 16, 'ipv4'],
  ['link-local', 'fe80::', 10, 'ipv6'],
  ['private', '10.0.0.0', 8, 'ipv4'],
  ['private', '172.16.0.0', 12, 'ipv4'],
  ['private', '192.168.0.0', 16, 'ipv4'],
  ['private', '100.64.0.0', 10, 'ipv4'],
  ['private', '192.0.0.0', 24, 'ipv4'],
  ['private', '192.0.2.0', 24, 'ipv4'],
  ['private', '198.18.0.0', 15, 'ipv4'],
  ['private', '198.51.100.0', 24, 'ipv4'],
  ['private', '203.0.113.0', 24, 'ipv4'],
  ['private', '224.0.0.0', 3, 'ipv4'],
  ['private', 'fc00::', 7, 'ipv6'],
  ['private', 'ff00::', 8, 'ipv6'],
  ['private', '2001:db8::', 32, 'ipv6'],
];

const LISTS = new Map<Exclude<AddressClass, 'public'>, BlockList>();
for (const [cls, net, prefix, family] of RANGES) {
  const list = LISTS.get(cls) ?? new BlockList();
  list.addSubnet(net, prefix, family);
  LISTS.set(cls, list);
}

/** loopback, link-local, private (or otherwise not routable on the Internet), or public. */
export function classifyAddress(address: string): AddressClass {
  const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  // BlockList matches IPv4-mapped IPv6 (::ffff:127.0.0.1) against the IPv4 ranges.
  for (const [cls, list] of LISTS) if (list.check(address, family)) return cls;
  return 'public';
}

function bare(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

export function sourcePolicy(catalogBase: string, allowLocal: boolean): SourcePolicy {
  const base = new URL(catalogBase);
  if (base.protocol === 'file:') {
    const dir = fileURLToPath(base);
    let real: string;
    try {
      real = realpathSync(dir);
    } catch {
      real = dir;
    }
    return { catalogOrigin: null, catalogDir: real, catalogPath: dir, allowLocal };
  }
  return { catalogOrigin: base.origin, catalogDir: null, allowLocal };
}

const RULE = 'a catalog may send Flow only to its own server or to public hosts (FLOW_CLI_ALLOW_LOCAL_BUNDLES=1 allows local ones); nothing was installed';

function refusal(what: string, host: string, address: string | null, cls: AddressClass, step: ToolStep): ToolError {
  const at = address && address !== host ? `${host} (${address})` : host;
  return new ToolError(`${what} points at ${at}, a ${cls} address; ${RULE}`, step);
}

/** Whether a request to `url` needs its addresses checked at all. */
function exempt(url: URL, policy: SourcePolicy): boolean {
  return policy.allowLocal || url.origin === policy.catalogOrigin;
}

/**
 * Checks an http(s) URL before a request: an address literal is judged here; a name gets the
 * returned lookup, which judges every address the name resolves to when the socket connects.
 * `what` says where the URL came from ("the bundle url …", "… redirects to …").
 */
export function guardHttp(url: URL, policy: SourcePolicy, what: string, step: ToolStep): LookupFunction | undefined {
  if (exempt(url, policy)) return undefined;
  const host = bare(url.hostname);
  if (isIP(host)) {
    const cls = classifyAddress(host);
    if (cls !== 'public') throw refusal(what, host, null, cls, step);
    return undefined;
  }
  const lookup = (hostname: string, options: object, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void): void => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const bad = addresses.find((a) => classifyAddress(a.address) !== 'public');
      if (bad) return callback(refusal(what, hostname, bad.address, classifyAddress(bad.address), step), []);
      if ((options as { all?: boolean }).all) return callback(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
  return lookup as LookupFunction;
}

function inside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/**
 * The real path of a file:// source, if it is a regular file inside the catalog's directory
 * (links resolved, so neither "..", an encoded "..", nor a link inside can lead out); null if
 * there is nothing there.
 */
export function confineFile(url: URL, policy: SourcePolicy, step: ToolStep): string | null {
  const path = fileURLToPath(url);
  if (!policy.catalogDir) throw new ToolError(`the catalog points at a local file (${url.href}); only a file:// catalog may, and only inside its own directory; nothing was installed`, step);
  const outside = (real: string | null): ToolError => {
    const via = real === null || real === path ? '' : ` (it leads to ${real})`;
    return new ToolError(`${url.href} is outside the catalog directory ${policy.catalogDir}${via}; a file:// catalog may point only at files inside its own directory; nothing was installed`, step);
  };
  let real: string;
  try {
    real = realpathSync(path);
  } catch (err) {
    // Nothing there: say so only for a path inside the catalog, never probe the rest of the disk.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      if (inside(policy.catalogDir, path) || (policy.catalogPath !== undefined && inside(policy.catalogPath, path))) return null;
      throw outside(null);
    }
    throw new ToolError(`cannot read ${url.href}: ${(err as Error).message}`, step);
  }
  if (!inside(policy.catalogDir, real)) throw outside(real);
  if (!statSync(real).isFile()) throw new ToolError(`${url.href} is not a file in the catalog directory; nothing was installed`, step);
  return real;
}
