/**
 * Reading cloudflared's log lines (reference/supervisors.md §4.1-4.5). Everything arrives on
 * stderr as `<RFC3339> <LVL> <message> <k=v ...>` (or JSON with --output json). The URL is the
 * `| https://<name>.trycloudflare.com |` row of the banner box; the disclaimer before it holds
 * other https links (website-terms, developers.cloudflare.com) that must never be taken for it.
 */
export type TunnelLine =
  | { kind: 'url'; url: string }
  | { kind: 'connected'; location: string | null; protocol: string | null; connIndex: number | null }
  | { kind: 'rate-limited' }
  | { kind: 'other' };

// eslint-disable-next-line no-control-regex -- ANSI colour codes appear when stderr is a terminal.
const ANSI = /\x1b\[[0-9;]*m/g;
const BOX_ROW_URL = /^\|\s+(https:\/\/[a-z0-9]+(?:-[a-z0-9]+)*\.trycloudflare\.com)\/?\s+\|$/;

/** The message part of a line: JSON's `message`, or the text after timestamp and level. */
function messageOf(line: string): string {
  const clean = line.replace(ANSI, '').trim();
  if (clean.startsWith('{')) {
    try {
      const m = (JSON.parse(clean) as { message?: unknown }).message;
      if (typeof m === 'string') return m.trim();
    } catch {
      // quic-go may write plain text even with --output json
    }
  }
  const m = /^\S+\s+(?:DBG|INF|WRN|ERR|FTL)\s+(.*)$/.exec(clean);
  return (m ? m[1]! : clean).trim();
}

function field(msg: string, key: string): string | null {
  const m = new RegExp(`(?:^|\\s)${key}=(\\S+)`).exec(msg);
  return m ? m[1]! : null;
}

export function parseTunnelLine(line: string): TunnelLine {
  const msg = messageOf(line);
  const url = BOX_ROW_URL.exec(msg);
  if (url) return { kind: 'url', url: url[1]! };
  // Current wording, and the one before 2023.4.1 (`Connection <uuid> registered ...`).
  if (msg.startsWith('Registered tunnel connection') || /^Connection \S+ registered/.test(msg)) {
    const idx = field(msg, 'connIndex');
    return { kind: 'connected', location: field(msg, 'location'), protocol: field(msg, 'protocol'), connIndex: idx === null ? null : Number(idx) };
  }
  if (/429 Too Many Requests|error code: 1015/.test(msg)) return { kind: 'rate-limited' };
  return { kind: 'other' };
}

// cloudflared's output is split by the one bounded splitter every child's output goes through.
export { LineSplitter } from '../host/line-splitter.js';
