import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../services/host/ports.js';

/**
 * A NATS or Redis server of the test's own, for tests that stop and restart it: the shared
 * ones on :4222 and :6379 serve every other test file and must stay up.
 */
export interface OwnServer {
  url: string;
  port: number;
  /** Stops the process (SIGTERM: Redis writes its append-only file, NATS flushes its store). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port with the same data directory. */
  start(): Promise<void>;
}

async function runServer(command: string, args: string[], ready: RegExp): Promise<ChildProcess> {
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} did not start:\n${out}`)), 15_000);
    const check = (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on('data', check);
    proc.stderr!.on('data', check);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited (${code}) before it was ready:\n${out}`));
    });
    proc.once('error', reject);
  });
  return proc;
}

function serverHandle(url: string, port: number, launch: () => Promise<ChildProcess>): Promise<OwnServer> {
  let proc: ChildProcess | null = null;
  const handle: OwnServer = {
    url,
    port,
    async stop(signal = 'SIGTERM') {
      const p = proc;
      proc = null;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        p.once('exit', () => resolve());
        p.kill(signal);
      });
    },
    async start() {
      if (proc) return;
      proc = await launch();
    },
  };
  return handle.start().then(() => handle);
}

export async function startOwnNats(dataDir: string): Promise<OwnServer> {
  const port = await freePort();
  return serverHandle(`nats://127.0.0.1:${port}`, port, () =>
    runServer('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dataDir], /Server is ready/),
  );
}

export async function startOwnRedis(dataDir: string): Promise<OwnServer> {
  const port = await freePort();
  return serverHandle(`redis://127.0.0.1:${port}`, port, () =>
    runServer('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dataDir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''], /Ready to accept connections/),
  );
}
