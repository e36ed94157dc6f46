import { z } from 'zod';

/**
 * Which tunnel URLs a relay handle may point at. The relay forwards anyone's traffic to the URL
 * a handle names, so a free choice would make it an open proxy: to its own loopback, its LAN,
 * any port. By default only a Cloudflare quick tunnel is accepted, as an origin and nothing
 * else: `https://<name>.trycloudflare.com`, default port, no user, path, query or fragment.
 *
 * A relay configured otherwise (`f relay --tunnel-hosts`, FLOW_RELAY_TUNNEL_HOSTS) takes a
 * comma-separated list of origins, each `[http://|https://]<host>[:port]`, where the host is a
 * name, an IP address, or `*.` and a domain (exactly one label in place of the star). The
 * scheme defaults to https and the port to the scheme's.
 */
export interface TunnelOriginRule {
  scheme: 'http' | 'https';
  /** An exact host, or (wildcard) the domain under which one label is allowed. */
  host: string;
  wildcard: boolean;
  /** null: the scheme's default port only. */
  port: number | null;
}

export const QUICK_TUNNEL_ORIGINS: readonly TunnelOriginRule[] = [{ scheme: 'https', host: 'trycloudflare.com', wildcard: true, port: null }];

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const MAX_URL = 300;

function isHostName(host: string): boolean {
  return host.length <= 253 && host.split('.').every((l) => LABEL.test(l));
}

function describe(rule: TunnelOriginRule): string {
  const host = rule.wildcard ? (rule.host === 'trycloudflare.com' && rule.port === null ? '<name>.trycloudflare.com' : `*.${rule.host}`) : rule.host;
  return `${rule.scheme}://${host}${rule.port === null ? '' : `:${rule.port}`}`;
}

export function describeTunnelOrigins(rules: readonly TunnelOriginRule[]): string {
  return rules.map(describe).join(', ');
}

const RuleSchema = z.string().transform((raw, ctx): TunnelOriginRule => {
  const m = /^(?:(https?):\/\/)?(\*\.)?([^:/?#@\s\\]+|\[[0-9a-f:.]+\])(?::(\d{1,5}))?\/?$/i.exec(raw.trim());
  const host = m?.[3]?.toLowerCase().replace(/^\[|\]$/g, '') ?? '';
  const port = m?.[4] === undefined ? null : Number(m[4]);
  const ipLiteral = host.includes(':') || /^\d+(?:\.\d+){3}$/.test(host);
  const hostOk = ipLiteral ? URL.canParse(`http://${host.includes(':') ? `[${host}]` : host}/`) && !m?.[2] : isHostName(host) && host.includes('.');
  if (!m || !hostOk || (port !== null && (port < 1 || port > 65535))) {
    ctx.addIssue({ code: 'custom', message: `"${raw.trim()}" is not an origin such as https://*.trycloudflare.com or http://127.0.0.1:8080 (scheme, host or *.domain, port; no path)` });
    return z.NEVER;
  }
  const scheme = (m[1]?.toLowerCase() ?? 'https') as 'http' | 'https';
  // ":443" on https is the default port written out: the same rule.
  const defaultPort = scheme === 'https' ? 443 : 80;
  return { scheme, host, wildcard: m[2] !== undefined, port: port === defaultPort ? null : port };
});

export const TunnelOriginsSchema = z
  .string()
  .transform((s) => s.split(',').map((p) => p.trim()).filter(Boolean))
  .pipe(z.array(RuleSchema).min(1, 'name at least one origin'));

/** Parses a `--tunnel-hosts` / FLOW_RELAY_TUNNEL_HOSTS list; throws with a message naming what is wrong. */
export function parseTunnelOrigins(list: string, source = 'tunnel hosts'): TunnelOriginRule[] {
  const parsed = TunnelOriginsSchema.safeParse(list);
  if (!parsed.success) throw new Error(`${source}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  return parsed.data;
}

function matches(rule: TunnelOriginRule, u: URL): boolean {
  if (u.protocol !== `${rule.scheme}:`) return false;
  if ((rule.port === null ? '' : String(rule.port)) !== u.port) return false;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (!rule.wildcard) return host === rule.host;
  if (!host.endsWith(`.${rule.host}`)) return false;
  return LABEL.test(host.slice(0, -rule.host.length - 1));
}

/**
 * The origin a candidate tunnel URL stands for, or null when the rules do not allow it. The
 * raw text is checked before the URL parser sees it: the parser forgives (drops "?", decodes
 * "%2d" in a host, reads "\\" as "/"), and what it forgave is exactly where tricks hide.
 */
export function allowedTunnelOrigin(candidate: string, rules: readonly TunnelOriginRule[]): string | null {
  if (candidate.length > MAX_URL) return null;
  // Scheme, then an authority of host characters (and a port), then at most a "/".
  if (!/^https?:\/\/(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?\/?$/i.test(candidate)) return null;
  if (!URL.canParse(candidate)) return null;
  const u = new URL(candidate);
  if (u.username || u.password || u.search || u.hash || u.pathname !== '/') return null;
  return rules.some((r) => matches(r, u)) ? u.origin : null;
}
