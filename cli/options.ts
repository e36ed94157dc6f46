import { BACKEND_LOG_LINES_MAX } from '../services/backend-child/log-lines-limit.js';

/**
 * Parsers for option values, shared by the command groups: each refuses a bad value with a
 * message naming the option and what it takes (commander prints it and exits 1).
 */

function wholeNumber(flag: string, v: string, min: number, max: number, what: string): number {
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || n < min || n > max) throw new Error(`${flag} must be ${what}, not ${JSON.stringify(v)}`);
  return n;
}

/** A port to listen on: 0 picks a free one. */
export function parsePort(v: string, flag = '--port'): number {
  return wholeNumber(flag, v, 0, 65535, 'a whole number from 0 to 65535');
}

/** A port a process is told to use (a backend's PORT) or that is reached (a tunnel's): a real one, never 0. */
export function parseRealPort(v: string): number {
  return wholeNumber('--port', v, 1, 65535, 'a port number from 1 to 65535');
}

/** A count such as -n/--lines: a whole number, 0 allowed. */
export function parseCount(flag: string) {
  return (v: string): number => wholeNumber(flag, v, 0, 1_000_000, 'a whole number from 0 to 1000000');
}

/** -n/--lines of a backend's log: 0 (no history, as tail -n 0) up to what one request may ask for. */
export function parseLogLines(v: string): number {
  return wholeNumber('--lines', v, 0, BACKEND_LOG_LINES_MAX, `a whole number from 0 to ${BACKEND_LOG_LINES_MAX}`);
}

/** An event version such as --to: a whole number from 1. */
export function parseVersion(flag: string) {
  return (v: string): number => wholeNumber(flag, v, 1, Number.MAX_SAFE_INTEGER, 'a stream version (a whole number from 1)');
}
