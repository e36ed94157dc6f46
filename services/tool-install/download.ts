import { createHash } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, fstatSync, openSync, constants as fsc } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { ToolError, type ToolStep } from './errors.js';
import { FLOW_VERSION } from './paths.js';
import { confineFile, guardHttp, type SourcePolicy } from './source-policy.js';

export interface DownloadHooks {
  onStart?(totalBytes: number | null): void;
  onData?(receivedBytes: number, totalBytes: number | null): void;
}

export interface Downloaded {
  bytes: number;
  sha256: string;
}

export interface FetchOptions {
  /** Where a catalog may send Flow (source-policy.ts); without one, any URL is fetched as given. */
  policy?: SourcePolicy;
  /** Abandon a request that goes this long without a byte (FLOW_CLI_DOWNLOAD_IDLE_MS). */
  idleMs?: number;
  /** The INSTALL_FAILED step a failure is reported as. */
  step?: ToolStep;
  /** What the URL is, for refusals: "the bundle url", "the catalog record". */
  what?: string;
}

export const DEFAULT_IDLE_MS = 30_000;
const MAX_REDIRECTS = 5;

/** A response (or a local file) about to be read, with the error that stopped it, if one did. */
export interface Opened {
  url: URL;
  status: number;
  statusText: string;
  contentType: string;
  total: number | null;
  body: Readable;
  /** Set when the idle timeout ended the request: the reason to report instead of "aborted". */
  failure(): ToolError | null;
}

function idleError(url: URL, idleMs: number, step: ToolStep): ToolError {
  return new ToolError(`no data from ${url.href} for ${idleMs / 1000} s (FLOW_CLI_DOWNLOAD_IDLE_MS); nothing was installed`, step);
}

function get(url: URL, lookup: LookupFunction | undefined, idleMs: number, accept: string, step: ToolStep): Promise<{ res: IncomingMessage; failure: () => ToolError | null }> {
  return new Promise((resolve, reject) => {
    let failure: ToolError | null = null;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    // No keep-alive agent: a pooled socket would outlive the request, and f exits when it is done.
    const req = send(url, { method: 'GET', agent: false, headers: { accept, 'user-agent': `flow/${FLOW_VERSION}` }, ...(lookup ? { lookup } : {}) });
    // The socket's idle timer covers the wait for headers and every gap in the body.
    req.setTimeout(idleMs, () => {
      failure = idleError(url, idleMs, step);
      req.destroy(failure);
    });
    req.on('error', (err) => {
      if (err instanceof ToolError) return reject(err);
      const code = (err as NodeJS.ErrnoException).code ?? err.name;
      reject(Object.assign(new ToolError(`cannot download ${url.href} (${code})`, step), { network: code }));
    });
    req.on('response', (res) => resolve({ res, failure: () => failure }));
    req.end();
  });
}

async function openHttp(url: URL, opts: FetchOptions, accept: string): Promise<Opened> {
  const step = opts.step ?? 'download';
  const idleMs = opts.idleMs ?? DEFAULT_IDLE_MS;
  let current = url;
  let what = `${opts.what ?? 'the url'} ${url.href}`;
  for (let hop = 0; ; hop++) {
    const lookup = opts.policy ? guardHttp(current, opts.policy, what, step) : undefined;
    const { res, failure } = await get(current, lookup, idleMs, accept, step);
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (status >= 300 && status < 400 && location) {
      res.resume();
      if (hop >= MAX_REDIRECTS) throw new ToolError(`${url.href} redirects more than ${MAX_REDIRECTS} times; nothing was installed`, step);
      const next = new URL(location, current);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new ToolError(`${current.href} redirects to ${next.href}; only http(s) redirects are followed; nothing was installed`, step);
      what = `${current.href} redirects to ${next.href}, which`;
      current = next;
      continue;
    }
    const len = Number(res.headers['content-length']);
    return {
      url: current,
      status,
      statusText: res.statusMessage ?? '',
      contentType: res.headers['content-type'] ?? '',
      total: Number.isFinite(len) && len > 0 ? len : null,
      body: res,
      failure,
    };
  }
}

function openFile(url: URL, opts: FetchOptions): Opened {
  const step = opts.step ?? 'download';
  const missing = (): Opened => ({ url, status: 404, statusText: 'Not Found', contentType: '', total: null, body: Readable.from([]), failure: () => null });
  let path = fileURLToPath(url);
  if (opts.policy) {
    const real = confineFile(url, opts.policy, step);
    if (real === null) return missing();
    path = real;
  }
  let fd: number;
  try {
    // O_NOFOLLOW: the confined real path is opened as it is, not through a link put there since.
    fd = openSync(path, fsc.O_RDONLY | (opts.policy ? fsc.O_NOFOLLOW : 0));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return missing();
    throw new ToolError(`cannot read ${url.href}: ${(err as Error).message}`, step);
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw new ToolError(`${url.href} is not a file; nothing was installed`, step);
  }
  return { url, status: 200, statusText: 'OK', contentType: '', total: st.size, body: createReadStream('', { fd }), failure: () => null };
}

/** Opens `url` under the policy: a local file (confined), or an http(s) GET with redirects checked. */
export async function openSource(url: URL, opts: FetchOptions = {}, accept = '*/*'): Promise<Opened> {
  if (url.protocol === 'file:') return openFile(url, opts);
  if (url.protocol === 'http:' || url.protocol === 'https:') return openHttp(url, opts, accept);
  throw new ToolError(`${url.href}: only http(s):// and file:// sources are supported`, opts.step ?? 'download');
}

/** Reads a small document whole, refusing one over `maxBytes` as it arrives. */
export async function readLimited(opened: Opened, maxBytes: number, step: ToolStep): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of opened.body) {
      size += (chunk as Buffer).length;
      if (size > maxBytes) throw new ToolError(`${opened.url.href} is over ${maxBytes} bytes (FLOW_CLI_MAX_CATALOG_BYTES); nothing was installed`, step);
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    opened.body.destroy();
    throw opened.failure() ?? (err instanceof ToolError ? err : new ToolError(`reading ${opened.url.href} failed: ${(err as Error).message}`, step));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Streams `url` to `dest`, hashing as it goes and stopping at `maxBytes` (a download is never
 * held in memory whole) or after `idleMs` without a byte. The caller compares the sha256 before
 * anything is unpacked.
 */
export async function download(url: URL, dest: string, maxBytes: number, hooks: DownloadHooks = {}, opts: FetchOptions = {}): Promise<Downloaded> {
  const step = opts.step ?? 'download';
  const src = await openSource(url, opts);
  if (src.status === 404 && url.protocol === 'file:') throw new ToolError(`the bundle ${url.href} does not exist`, step);
  if (src.status < 200 || src.status >= 300) {
    src.body.destroy();
    throw new ToolError(`downloading ${src.url.href} failed: ${src.status} ${src.statusText}`, step);
  }
  const total = src.total;
  if (total !== null && total > maxBytes) {
    src.body.destroy();
    throw new ToolError(`${url.href} is ${total} bytes, over the download limit of ${maxBytes} (FLOW_CLI_MAX_DOWNLOAD_BYTES)`, step);
  }
  hooks.onStart?.(total);
  const hash = createHash('sha256');
  let received = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      received += chunk.length;
      if (received > maxBytes) return cb(new ToolError(`${url.href} is over the download limit of ${maxBytes} bytes (FLOW_CLI_MAX_DOWNLOAD_BYTES)`, step));
      hash.update(chunk);
      hooks.onData?.(received, total);
      cb(null, chunk);
    },
  });
  try {
    await pipeline(src.body, meter, createWriteStream(dest, { mode: 0o600 }));
  } catch (err) {
    const idle = src.failure();
    if (idle) throw idle;
    if (err instanceof ToolError) throw err;
    throw new ToolError(`downloading ${url.href} failed: ${(err as Error).message}`, step);
  }
  if (total !== null && received !== total) throw new ToolError(`downloading ${url.href} stopped after ${received} of ${total} bytes`, step);
  return { bytes: received, sha256: hash.digest('hex') };
}
