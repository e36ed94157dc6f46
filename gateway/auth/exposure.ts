import { isIP } from 'node:net';
import { authIsConfigured } from './password.js';

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
