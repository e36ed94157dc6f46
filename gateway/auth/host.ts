import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { tunnelKind, type TunnelContext } from '../../actors/tunnel/index.js';
import { formatHost, judgeHost, parseHostName, refusalMessage, type AllowedHost, type HostVerdict } from '../../services/auth/allowed-hosts.js';
import type { ReadModel } from '../../services/store/read-model.js';
import { errorBody } from '../errors.js';
import { isWebSocketUpgrade } from './origin.js';

/**
 * The gateway answers only to the names it is reached by on purpose: loopback names at the port
 * it listens on, names the user allowed (FLOW_ALLOWED_HOSTS), and the public names of tunnels
 * (and relay handles) that expose it. Anything else is a page that rebound its own name to
 * 127.0.0.1, or a request meant for another server: 421 Misdirected Request.
 */
export interface HostGuardDeps {
  allowed: readonly AllowedHost[];
  /** The public names of the running tunnels that expose `port` (every port when null). */
  exposedAs?: (port: number | null) => AllowedHost[];
}

/** Tunnel states in which its public name may reach us (it may come back with the same name while restarting). */
const GONE = new Set(['new', 'stopped', 'removed', 'failed']);

function hostOfUrl(url: string | null | undefined): AllowedHost | null {
  if (!url || !URL.canParse(url)) return null;
  const u = new URL(url);
  return parseHostName(u.host);
}

/** The public names of the tunnels in the read model whose target is `port`. */
export function tunnelHosts(readModel: ReadModel): (port: number | null) => AllowedHost[] {
  return (port) => {
    const out: AllowedHost[] = [];
    for (const row of readModel.listActors(tunnelKind.streamType)) {
      if (GONE.has(row.status)) continue;
      const c = row.snapshot.context as TunnelContext;
      if (port !== null && c.config?.port !== port) continue;
      for (const h of [hostOfUrl(c.url), hostOfUrl(c.relay?.handleUrl)]) {
        // The public URL has no port when it is the scheme's default: the name is what matters.
        if (h) out.push({ name: h.name, port: null });
      }
    }
    return out;
  };
}

const kTarget = Symbol('flow.absoluteTarget');
type Raw = IncomingMessage & { [kTarget]?: string };

/**
 * Fastify's `rewriteUrl`: an absolute-form request line (`POST http://x/api/... HTTP/1.1`) is
 * turned into the path it names, so routes, the proxy and logs all see a path, and its authority
 * is kept for the host guard to judge (RFC 9112 §3.2.2: it, not the Host header, names the
 * server). The path is cut from the string as sent, never re-parsed: no decoding, no ".." folding.
 */
export function originFormUrl(req: IncomingMessage): string {
  const url = req.url ?? '/';
  if (url.startsWith('/')) return url;
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)(.*)$/i.exec(url);
  if (!m) return url;
  (req as Raw)[kTarget] = m[1]!;
  const rest = m[2]!;
  return rest.startsWith('/') ? rest : `/${rest}`;
}

function absoluteTarget(request: FastifyRequest): string | undefined {
  return (request.raw as Raw)[kTarget];
}

function portOf(request: FastifyRequest): number | null {
  return request.socket?.localPort ?? null;
}

export function judgeRequestHost(request: FastifyRequest, deps: HostGuardDeps): HostVerdict {
  const localPort = portOf(request);
  const policy = { localPort, localAddress: request.socket?.localAddress ?? null, allowed: deps.allowed, httpVersion: request.raw.httpVersion };
  const judge = (header: string | undefined): HostVerdict => {
    const first = judgeHost(header, policy);
    if (first.ok || first.reason !== 'not-allowed' || !deps.exposedAs) return first;
    // Only a name the static list refused is looked up among the tunnels (a read-model query).
    return judgeHost(header, { ...policy, allowed: deps.exposedAs(localPort) });
  };
  const target = absoluteTarget(request);
  if (target !== undefined) {
    // userinfo in the target ("http://127.0.0.1:1@evil/") is not a host name: refused as malformed.
    const verdict = judge(target);
    if (!verdict.ok) return verdict;
  }
  return judge(request.headers.host);
}

function accepted(deps: HostGuardDeps, port: number | null): string {
  const p = port === null ? '<port>' : String(port);
  return ['127.0.0.1', 'localhost', '[::1]'].map((n) => `${n}:${p}`).concat(deps.allowed.map(formatHost)).join(', ');
}

/**
 * The first onRequest hook after the WebSocket plugin's: before authentication, before any body
 * is read, and before an upgrade is answered 101.
 */
export function hostGuard(deps: HostGuardDeps) {
  return async function flowHostGuard(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const verdict = judgeRequestHost(request, deps);
    if (verdict.ok) return;
    if (isWebSocketUpgrade(request)) reply.header('connection', 'close');
    const message = refusalMessage(verdict, { envVar: 'FLOW_ALLOWED_HOSTS', accepted: accepted(deps, portOf(request)) });
    if (verdict.reason === 'not-allowed') {
      reply.code(421).send(errorBody('misdirected', message));
    } else {
      reply.code(400).send(errorBody('invalid', message));
    }
  };
}
