import { spawn } from 'node:child_process';

/** The command that opens a URL in the user's browser on this platform (xdg-open honours $BROWSER). */
export function openerFor(platform: NodeJS.Platform = process.platform): { command: string; args: (url: string) => string[] } {
  if (platform === 'darwin') return { command: 'open', args: (url) => [url] };
  // `start` is a cmd built-in; its first quoted argument is a window title, hence the empty one.
  if (platform === 'win32') return { command: 'cmd', args: (url) => ['/c', 'start', '""', url] };
  return { command: 'xdg-open', args: (url) => [url] };
}

/** A URL a browser on this machine can open: a wildcard bind address is reached on loopback. */
export function browsableUrl(url: string): string {
  const u = new URL(url);
  if (u.hostname === '0.0.0.0' || u.hostname === '[::]') u.hostname = '127.0.0.1';
  return u.toString();
}

/**
 * Opens `url` in a browser (seed 003's OPEN_BROWSER, `f up --open`) and does not wait for it:
 * the opener runs detached and ignored. A missing opener (a server with no desktop) is a line
 * in the output saying where to go, never a failed start.
 */
export function openInBrowser(url: string, log: (line: string) => void, platform: NodeJS.Platform = process.platform): void {
  const { command, args } = openerFor(platform);
  try {
    const child = spawn(command, args(url), { detached: true, stdio: 'ignore' });
    child.once('error', (err: NodeJS.ErrnoException) => log(`could not open a browser (${command}: ${err.code === 'ENOENT' ? 'not found' : err.message}); open ${url} yourself`));
    child.once('exit', (code) => {
      if (code) log(`${command} exited with ${code}; open ${url} yourself`);
    });
    child.unref();
  } catch (err) {
    log(`could not open a browser (${(err as Error).message}); open ${url} yourself`);
  }
}
