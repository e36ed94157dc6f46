import { isIP } from 'node:net';
import type { TunnelContext } from '../../actors/tunnel/index.js';
import type { ActorRow } from '../../services/store/projections.js';
import { authIsConfigured, passwordFile, readPasswordRecord } from '../../services/auth/password.js';

/** Addresses only this machine can reach. "0.0.0.0" and "::" are every interface, not loopback. */
export function isLoopbackBind(bind: string): boolean {
  const host = bind.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host === '::1') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  // IPv4-mapped loopback (::ffff:127.0.0.1).
  return /^::ffff:127\./.test(host);
}

/**
 * Why `f up` must not start, or null. Without a password, anyone who can reach a non-loopback
 * address could run commands through Flow's backends; the original flow-server listened on
 * 0.0.0.0 with no auth at all.
 */
export function openBindRefusal(home: string, bind: string): string | null {
  if (isLoopbackBind(bind) || authIsConfigured(home)) return null;
  return (
    `refusing to listen on ${bind} without a password: anyone who can reach that address could control Flow. ` +
    `Set one with "f auth set-password" (then log in with "f auth login"), or bind to 127.0.0.1`
  );
}

/** Why the gateway is reachable from beyond this machine right now, or null when it is not. */
export type Exposure = () => string | null;

/** Tunnel states in which no process is, or is about to be, forwarding traffic. */
const TUNNEL_DOWN = new Set(['new', 'stopped', 'removed', 'failed']);

/**
 * A running gateway is exposed while it listens on a non-loopback address, or while a tunnel
 * that is not down points at its port (starting, connected, restarting or backing off: any of
 * them forwards, or will again). Read from the actors, so it holds in both modes; a tunnel on
 * another host to the same port number counts too, which errs on the closed side.
 */
export function gatewayExposure(opts: { bind: string; port: () => number; tunnels: () => readonly ActorRow[] }): Exposure {
  return () => {
    if (!isLoopbackBind(opts.bind)) return `it listens on ${opts.bind}, which other machines can reach`;
    const port = opts.port();
    for (const row of opts.tunnels()) {
      const ctx = row.snapshot.context as Partial<TunnelContext> | null;
      if (ctx?.config?.port === port && !TUNNEL_DOWN.has(row.status)) return `tunnel "${ctx.name ?? row.streamId}" exposes its port ${port} (${row.status})`;
    }
    return null;
  };
}

export interface EnforcedPasswordOptions {
  home: string;
  exposure?: Exposure;
  /** How long "is a login required?" is remembered (default 1 s), so requests do not read a file each. */
  cacheMs?: number;
  /** Where the gateway says that it keeps a removed password (default: stderr). */
  log?: (line: string) => void;
}

/**
 * The password a running gateway enforces. It is read from the file, so `f auth set-password`
 * takes effect within a second, with one exception that fails closed: while the gateway is
 * exposed, a password file that disappears does not turn the login off. The gateway keeps the
 * last password it saw (tokens stay valid, the user can still log in) until nothing exposes it.
 */
export class EnforcedPassword {
  private known: { required: boolean; at: number } | null = null;
  private last: string | null;
  private keptBecause: string | null = null;
  private readonly log: (line: string) => void;

  constructor(private readonly opts: EnforcedPasswordOptions) {
    this.log = opts.log ?? ((line) => process.stderr.write(`flow: ${line}\n`));
    this.last = this.readRecord();
  }

  /** Whether every protected route needs a login right now. */
  isRequired(): boolean {
    const now = Date.now();
    if (!this.known || now - this.known.at >= (this.opts.cacheMs ?? 1000)) this.known = { required: this.refresh(), at: now };
    return this.known.required;
  }

  /** True while a removed password is kept because the gateway is exposed. */
  failClosed(): boolean {
    return this.isRequired() && this.keptBecause !== null;
  }

  /** The `salt:hash` a login is checked against: the file as it is now, else the one kept. */
  record(): string | null {
    const current = this.readRecord();
    if (current !== null) return current;
    return this.isRequired() ? this.last : null;
  }

  private readRecord(): string | null {
    try {
      return readPasswordRecord(this.opts.home);
    } catch {
      // A password file that exists but cannot be read still means a password is set.
      return this.last ?? '';
    }
  }

  private refresh(): boolean {
    const record = this.readRecord();
    if (record !== null) {
      if (record) this.last = record;
      this.keptBecause = null;
      return true;
    }
    const exposed = this.opts.exposure?.() ?? null;
    if (exposed === null) {
      if (this.keptBecause !== null) this.log('nothing exposes the gateway any more: the password file is gone, so no login is required (loopback only)');
      this.last = null;
      this.keptBecause = null;
      return false;
    }
    if (this.keptBecause === null) {
      this.log(
        this.last
          ? `the password file ${passwordFile(this.opts.home)} is gone but this gateway is exposed (${exposed}): ` +
              'it keeps requiring a login with the last password. Stop the tunnel, or restart Flow bound to 127.0.0.1, to turn the login off'
          : // No password to keep (say a tunnel's port became the gateway's): closed, and no login can succeed.
            `no password is set but this gateway is exposed (${exposed}): every route but /api/health is refused until a password ` +
              'is set ("f auth set-password", then "f auth login") or nothing exposes the gateway',
      );
    }
    this.keptBecause = exposed;
    return true;
  }
}
