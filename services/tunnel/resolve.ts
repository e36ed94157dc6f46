import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Where to dial for a public URL. In production that is the URL itself. Tests (and the fake
 * cloudflared) cannot make `https://x.trycloudflare.com` resolve, so a directory named by
 * FLOW_TUNNEL_RESOLVE_DIR may hold one file per hostname whose content is the origin to dial
 * instead (e.g. `http://127.0.0.1:41234`); the Host header still names the public host.
 */
export type UpstreamResolver = (publicUrl: URL) => URL;

export const RESOLVE_DIR_ENV = 'FLOW_TUNNEL_RESOLVE_DIR';

export const directResolver: UpstreamResolver = (u) => u;

export function resolverFromDir(dir: string): UpstreamResolver {
  return (u) => {
    // Hostnames are checked before they become file names: no path tricks.
    if (!/^[a-z0-9.-]+$/i.test(u.hostname)) return u;
    let origin: string;
    try {
      origin = readFileSync(join(dir, u.hostname.toLowerCase()), 'utf8').trim();
    } catch {
      return u;
    }
    const mapped = new URL(origin);
    return new URL(u.pathname + u.search, mapped);
  };
}

export function resolverFromEnv(env: NodeJS.ProcessEnv = process.env): UpstreamResolver {
  const dir = env[RESOLVE_DIR_ENV];
  return dir ? resolverFromDir(dir) : directResolver;
}
