/** How `f logs` prints a line of one backend among others, as `pm2 logs` does. */
export interface LogLine {
  seq: number;
  at: string;
  fd: 'stdout' | 'stderr' | 'flow';
  line: string;
  truncated?: boolean;
}

export interface LogFormat {
  /** The longest backend name shown, so the marks line up. */
  nameWidth: number;
  time: boolean;
  color: boolean;
}

// stdout `|`, stderr `!` (red on a terminal), Flow's own notes `~` (dim).
const MARK = { stdout: '|', stderr: '!', flow: '~' } as const;
const COLOR = { stdout: '', stderr: '\x1b[31m', flow: '\x1b[2m' } as const;
const NAME_COLORS = ['\x1b[36m', '\x1b[32m', '\x1b[35m', '\x1b[33m', '\x1b[34m'];
const RESET = '\x1b[0m';

export function formatLogLine(name: string, l: LogLine, f: LogFormat, nameIndex = 0): string {
  const time = f.time ? `${l.at} ` : '';
  const text = `${l.line}${l.truncated ? ' … [line cut]' : ''}`;
  const label = name.padEnd(f.nameWidth);
  if (!f.color) return `${time}${label} ${MARK[l.fd]} ${text}\n`;
  const nameColor = NAME_COLORS[nameIndex % NAME_COLORS.length]!;
  const body = COLOR[l.fd] ? `${COLOR[l.fd]}${MARK[l.fd]} ${text}${RESET}` : `${MARK[l.fd]} ${text}`;
  return `${f.time ? `\x1b[2m${time}${RESET}` : ''}${nameColor}${label}${RESET} ${body}\n`;
}

/** Colour only on a terminal, and never when NO_COLOR is set (no-color.org). */
export function wantsColor(stream: NodeJS.WriteStream = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(stream.isTTY) && !env.NO_COLOR;
}

/** Lines of several backends in the order they were printed: by time, then by seq (one host's order). */
export function mergeLogs(byName: ReadonlyMap<string, readonly LogLine[]>): { name: string; line: LogLine }[] {
  const all: { name: string; line: LogLine }[] = [];
  for (const [name, lines] of byName) for (const line of lines) all.push({ name, line });
  return all.sort((a, b) => a.line.at.localeCompare(b.line.at) || a.line.seq - b.line.seq);
}
