import type { Command } from 'commander';
import { DEFAULT_BIND, DEFAULT_PORT } from '../../infra/config.js';

export function register(program: Command): void {
  program
    .command('up')
    .description('run Flow in this process: the actor host and the gateway (Ctrl+C stops everything)')
    .option('--port <port>', 'port for the gateway (0 picks a free one)', (v) => parsePort(v), Number(process.env.FLOW_PORT ?? DEFAULT_PORT))
    .option('--host <address>', 'address to bind', process.env.FLOW_BIND ?? DEFAULT_BIND)
    .action(async (opts: { port: number; host: string }) => {
      const { startEmbedded } = await import('../../infra/embedded.js');
      const flow = await startEmbedded({ port: opts.port, bind: opts.host });
      process.stdout.write(`Flow is up at ${flow.url}\n`);
      let signals = 0;
      const stop = (signal: string) => {
        signals += 1;
        if (signals > 1) {
          process.stderr.write(`${signal} again: exiting now\n`);
          process.exit(130);
        }
        process.stderr.write(`${signal}: stopping backends and the gateway...\n`);
        flow
          .close()
          .then(() => process.exit(0))
          .catch((err: unknown) => {
            process.stderr.write(`f up: error while stopping: ${String(err)}\n`);
            process.exit(1);
          });
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGHUP', () => stop('SIGHUP'));
    });
}

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--port must be a whole number from 0 to 65535, not ${JSON.stringify(v)}`);
  return n;
}
