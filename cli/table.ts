export { table } from './output.js';

/**
 * Re-renders `render()` every `intervalMs` until interrupted, the way `pm2 ls` under `watch`
 * looks: on a terminal the new table is drawn over the old one; into a pipe or a file each
 * table follows the last, separated by a blank line (no escape codes where no terminal is).
 */
export async function watchTable(render: () => Promise<string>, intervalMs: number, out: Pick<NodeJS.WriteStream, 'write' | 'isTTY' | 'columns'> = process.stdout, signal?: AbortSignal): Promise<void> {
  let drawnRows = 0;
  while (!signal?.aborted) {
    const text = await render();
    if (out.isTTY) {
      const footer = `every ${intervalMs / 1000}s · ${new Date().toLocaleTimeString()} · Ctrl+C stops\n`;
      // Up to the first line drawn last time, clear from there down, draw again.
      out.write(`${drawnRows > 0 ? `\x1b[${drawnRows}F` : ''}\x1b[J${text}${footer}`);
      drawnRows = screenRows(text + footer, out.columns || 80);
    } else {
      out.write(`${drawnRows > 0 ? '\n' : ''}${text}`);
      drawnRows = 1;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Rows a text takes on a terminal this wide (a long line wraps). */
function screenRows(text: string, columns: number): number {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.reduce((n, l) => n + Math.max(1, Math.ceil(l.length / columns)), 0);
}
