import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ToolError } from './errors.js';

export interface DownloadHooks {
  onStart?(totalBytes: number | null): void;
  onData?(receivedBytes: number, totalBytes: number | null): void;
}

export interface Downloaded {
  bytes: number;
  sha256: string;
}

/**
 * Streams `url` to `dest`, hashing as it goes and stopping at `maxBytes` (a download is never
 * held in memory whole). The caller compares the sha256 before anything is unpacked.
 */
export async function download(url: URL, dest: string, maxBytes: number, hooks: DownloadHooks = {}): Promise<Downloaded> {
  let source: Readable;
  let total: number | null = null;
  if (url.protocol === 'file:') {
    const file = fileURLToPath(url);
    try {
      total = statSync(file).size;
    } catch {
      throw new ToolError(`the bundle ${url.href} does not exist`, 'download');
    }
    source = createReadStream(file);
  } else {
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(10 * 60_000) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      throw new ToolError(`cannot download ${url.href} (${cause})`, 'download');
    }
    if (!res.ok || !res.body) throw new ToolError(`downloading ${url.href} failed: ${res.status} ${res.statusText}`, 'download');
    const len = Number(res.headers.get('content-length'));
    total = Number.isFinite(len) && len > 0 ? len : null;
    source = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
  }
  if (total !== null && total > maxBytes) {
    source.destroy();
    throw new ToolError(`${url.href} is ${total} bytes, over the download limit of ${maxBytes} (FLOW_CLI_MAX_DOWNLOAD_BYTES)`, 'download');
  }
  hooks.onStart?.(total);
  const hash = createHash('sha256');
  let received = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      received += chunk.length;
      if (received > maxBytes) return cb(new ToolError(`${url.href} is over the download limit of ${maxBytes} bytes (FLOW_CLI_MAX_DOWNLOAD_BYTES)`, 'download'));
      hash.update(chunk);
      hooks.onData?.(received, total);
      cb(null, chunk);
    },
  });
  try {
    await pipeline(source, meter, createWriteStream(dest, { mode: 0o600 }));
  } catch (err) {
    if (err instanceof ToolError) throw err;
    throw new ToolError(`downloading ${url.href} failed: ${(err as Error).message}`, 'download');
  }
  return { bytes: received, sha256: hash.digest('hex') };
}
