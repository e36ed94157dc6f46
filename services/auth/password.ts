import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/**
 * The gateway password (seed 002): scrypt with a random 16-byte salt, stored as `salt:hash` in
 * hex under $FLOW_HOME/auth/password, readable by its owner only. The password itself is
 * never written anywhere.
 */
export const PasswordSchema = z
  .string()
  .min(8, 'a password has at least 8 characters')
  .max(1024, 'a password has at most 1024 characters');

const SALT_BYTES = 16;
const KEY_BYTES = 64;
/** Node's defaults (N=2^14, r=8, p=1): about 16 MiB and tens of ms per check, which is the point. */
const SCRYPT: ScryptOptions = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

const RecordSchema = z.string().regex(/^[0-9a-f]{32}:[0-9a-f]{128}$/, 'the password file must hold "salt:hash" in hex');

export function authDir(home: string): string {
  return join(home, 'auth');
}

export function passwordFile(home: string): string {
  return join(authDir(home), 'password');
}

function scrypt(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(password.normalize('NFC'), salt, KEY_BYTES, SCRYPT, (err, key) => (err ? reject(err) : resolve(key))));
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await scrypt(password, salt);
  return `${salt.toString('hex')}:${key.toString('hex')}`;
}

/** Constant-time comparison of a candidate against a stored `salt:hash`. */
export async function verifyAgainst(record: string, candidate: string): Promise<boolean> {
  const [saltHex, hashHex] = RecordSchema.parse(record.trim()).split(':') as [string, string];
  const expected = Buffer.from(hashHex, 'hex');
  const actual = await scrypt(candidate, Buffer.from(saltHex, 'hex'));
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** Writes a file readable by its owner only, atomically: a crash leaves the old password or the new one. */
export function writePrivateFile(path: string, content: string, dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  // The mode given to writeFileSync is masked by the umask and ignored for an existing file.
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

export async function setPassword(home: string, password: string): Promise<void> {
  const parsed = PasswordSchema.parse(password);
  writePrivateFile(passwordFile(home), `${await hashPassword(parsed)}\n`, authDir(home));
}

export function removePassword(home: string): void {
  rmSync(passwordFile(home), { force: true });
}

/** The stored `salt:hash`, or null when no password is set. */
export function readPasswordRecord(home: string): string | null {
  try {
    return readFileSync(passwordFile(home), 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Whether the gateway requires a login. The tunnel code asks this before exposing the gateway
 * (a tunnel to an unauthenticated gateway is refused) and `f up` before a non-loopback bind.
 */
export function authIsConfigured(home: string): boolean {
  try {
    return statSync(passwordFile(home)).isFile();
  } catch {
    return false;
  }
}

export async function verifyPassword(home: string, candidate: string): Promise<boolean> {
  const record = readPasswordRecord(home);
  if (record === null) return false;
  return verifyAgainst(record, candidate);
}
