import http from 'node:http';
import https from 'node:https';
import { directResolver, type UpstreamResolver } from './resolve.js';

/**
 * The watchdog's probe: a HEAD through the public URL, as seed 002 does, with a 5 s budget.
 * Any HTTP answer means the tunnel carries traffic (even a 401 from a password-protected
 * gateway, or a 502 when the origin is down: restarting the tunnel would not help that),
 * except 530, Cloudflare's "tunnel error" (1033: no connector behind the hostname).
 */
export type HealthResult = { ok: true; status: number } | { ok: false; error: string; status: number | null };

export const HEALTH_TIMEOUT_MS = 5_000;

export function headCheck(publicUrl: string, opts: { resolve?: UpstreamResolver; timeoutMs?: number } = {}): Promise<HealthResult> {
  const pub = new URL(publicUrl);
  const connect = (opts.resolve ?? directResolver)(pub);
  const lib = connect.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: HealthResult) => {
      if (done) return;
      done = true;
      resolve(r);
    };
    const req = lib.request(
      {
        protocol: connect.protocol,
        hostname: connect.hostname,
        port: connect.port || (connect.protocol === 'https:' ? 443 : 80),
        method: 'HEAD',
        path: pub.pathname + pub.search,
        headers: { host: pub.host, 'user-agent': 'flow-tunnel-watchdog' },
        servername: pub.hostname,
        agent: false,
      },
      (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        finish(status === 530 ? { ok: false, error: 'HTTP 530 (Cloudflare tunnel error: no connector)', status } : { ok: true, status });
      },
    );
    // A budget for the whole exchange (the socket's own timeout only measures idleness).
    const budget = opts.timeoutMs ?? HEALTH_TIMEOUT_MS;
    const timer = setTimeout(() => {
      finish({ ok: false, error: `no answer within ${budget} ms`, status: null });
      req.destroy();
    }, budget);
    timer.unref();
    req.on('close', () => clearTimeout(timer));
    req.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, error: err.code ?? err.message, status: null }));
    req.end();
  });
}
