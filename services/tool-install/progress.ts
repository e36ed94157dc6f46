import type { DownloadHooks } from './download.js';

/**
 * A progress bar on a terminal (cli-progress, on stderr so stdout stays clean), plus checkpoint
 * callbacks for the event log: each quarter of a known size, or every 4 MiB of an unknown one.
 */
export async function downloadProgress(label: string, checkpoint: (received: number, total: number | null) => void, tty = process.stderr.isTTY === true): Promise<DownloadHooks & { stop(): void }> {
  type Bar = { start(total: number, value: number): void; update(value: number): void; stop(): void; setTotal(t: number): void };
  let bar: Bar | null = null;
  if (tty) {
    const { default: cliProgress } = await import('cli-progress');
    bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {percentage}% {value}/{total} bytes`, stream: process.stderr, hideCursor: true, clearOnComplete: false },
      cliProgress.Presets.shades_classic,
    ) as unknown as Bar;
  }
  let nextMark = 0;
  const step = (total: number | null) => (total ? Math.ceil(total / 4) : 4 * 1024 * 1024);
  return {
    onStart(total) {
      bar?.start(total ?? 0, 0);
      nextMark = step(total);
    },
    onData(received, total) {
      if (bar) {
        if (!total) bar.setTotal(received);
        bar.update(received);
      }
      if (received >= nextMark && (total === null || received < total)) {
        checkpoint(received, total);
        nextMark = received + step(total);
      }
    },
    stop() {
      bar?.stop();
    },
  };
}
