/**
 * Where a key path (as zod reports it: ["backends", "api", "port"]) is written in a TOML text.
 * smol-toml gives positions only for syntax errors, so the text is scanned: table headers set the
 * current table, `key = value` lines add their (dotted) key. The line whose path is the longest
 * prefix of the one asked for wins (or the first line that starts with it), so a missing field is reported at its table's header and a
 * bad value inside an inline table at the line of that table.
 */
export function locateKey(text: string, path: readonly PropertyKey[]): number | null {
  const want = path.map(String);
  let table: string[] = [];
  let best: { line: number; depth: number } | null = null;
  const consider = (keys: string[] | null, line: number) => {
    if (!keys) return;
    const depth = commonPrefix(keys, want);
    // The line's key leads to the one asked for, or starts with it (an unknown table `[x.y]`).
    if (depth > 0 && depth === Math.min(keys.length, want.length) && (!best || depth > best.depth)) best = { line, depth };
  };
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const header = /^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$/.exec(raw);
    if (header) {
      const keys = splitKey(header[1]!);
      if (keys) {
        table = keys;
        consider(keys, i + 1);
      }
      continue;
    }
    const assign = /^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=/.exec(raw);
    if (assign) {
      const keys = splitKey(assign[1]!);
      if (keys) consider([...table, ...keys], i + 1);
    }
  }
  return (best as { line: number } | null)?.line ?? null;
}

function commonPrefix(a: string[], b: string[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/** `a."b.c".d` → ["a", "b.c", "d"]; null if it is not a key. */
function splitKey(s: string): string[] | null {
  const out: string[] = [];
  const re = /\s*(?:([A-Za-z0-9_-]+)|"([^"]*)"|'([^']*)')\s*(\.|$)/y;
  let pos = 0;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) return null;
    out.push(m[1] ?? m[2] ?? m[3] ?? '');
    pos = re.lastIndex;
    if (m[4] === '') break;
  }
  return out.length ? out : null;
}
