import type { Command } from 'commander';
import { portFromEnv } from '../../infra/flow-url.js';
import { DEFAULT_BIND, DEFAULT_PORT } from '../../infra/locations.js';
import { runUntilSignal } from '../../infra/lifetime.js';
import { parsePort } from '../options.js';

// infra/lifetime.ts imports nothing: cheap enough for f --help.
export { parsePort, runUntilSignal };

export function register(program: Command): void {
  withServerUrls(program
    .command('up'))
    .description('run Flow in this process: the actor host and the gateway (Ctrl+C stops everything)')
    .option('--port <port>', 'port for the gateway (0 picks a free one)', (v) => parsePort(v), portFromEnv() ?? DEFAULT_PORT)
    .option('--host <address>', 'address to bind', process.env.FLOW_BIND ?? DEFAULT_BIND)
    .action(async (opts: { port: number; host: string; nats?: string; redis?: string }) => {
      const { distributedUrls } = await import('../../infra/config.js');
      const urls = distributedUrls(opts);
      const what = 'backends and the gateway';
      if (urls) {
        const { startDistributedUp } = await import('../../infra/distributed.js');
        await runUntilSignal(
          () => startDistributedUp({ ...urls, port: opts.port, bind: opts.host }),
          (flow) => ({ banner: `Flow is up at ${flow.url} (distributed: host ${flow.host.hostId}, NATS ${urls.natsUrl}, Redis ${urls.redisUrl})`, what }),
        );
        return;
      }
      const { startEmbedded } = await import('../../infra/embedded.js');
      await runUntilSignal(() => startEmbedded({ port: opts.port, bind: opts.host }), (flow) => ({ banner: `Flow is up at ${flow.url}`, what }));
    });
}

/** --nats and --redis: distributed mode's servers (default: FLOW_NATS_URL, FLOW_REDIS_URL). */
export function withServerUrls(command: Command): Command {
  return command
    .option('--nats <url>', 'distributed mode: NATS server with JetStream (default: FLOW_NATS_URL)')
    .option('--redis <url>', 'distributed mode: Redis for the command queue (default: FLOW_REDIS_URL)');
}
