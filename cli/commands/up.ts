import type { Command } from 'commander';
import { upBanner } from '../../infra/banner.js';
import { DEFAULT_BIND, DEFAULT_PORT, distributedUrls, flowHome } from '../../infra/config.js';
import { runUntilSignal } from '../../infra/lifetime.js';

export { runUntilSignal };

export function register(program: Command): void {
  withServerUrls(program
    .command('up'))
    .description('run Flow in this process: the actor host and the gateway (Ctrl+C stops everything)')
    .option('--port <port>', 'port for the gateway (0 picks a free one)', (v) => parsePort(v), Number(process.env.FLOW_PORT ?? DEFAULT_PORT))
    .option('--host <address>', 'address to bind', process.env.FLOW_BIND ?? DEFAULT_BIND)
    .action(async (opts: { port: number; host: string; nats?: string; redis?: string }) => {
      const urls = distributedUrls(opts);
      const what = 'backends and the gateway';
      if (urls) {
        const { startDistributedUp } = await import('../../infra/distributed.js');
        await runUntilSignal(
          () => startDistributedUp({ ...urls, port: opts.port, bind: opts.host }),
          (flow) => ({
            banner: upBanner({
              title: `Flow is up at ${flow.url} (distributed: host ${flow.host.hostId}, NATS ${urls.natsUrl}, Redis ${urls.redisUrl})`,
              home: flowHome(),
              mode: `distributed: host ${flow.host.hostId} and the gateway in this process, events on NATS JetStream ${urls.natsUrl}, commands through BullMQ on ${urls.redisUrl}`,
              recovered: flow.host.host.recovered(),
            }),
            what,
          }),
        );
        return;
      }
      const { startEmbedded } = await import('../../infra/embedded.js');
      await runUntilSignal(
        () => startEmbedded({ port: opts.port, bind: opts.host }),
        (flow) => ({
          banner: upBanner({ title: `Flow is up at ${flow.url}`, home: flowHome(), mode: 'embedded (one process: SQLite log in FLOW_HOME/flow.db, in-process bus and queue)', recovered: flow.host.recovered() }),
          what,
        }),
      );
    });
}

/** --nats and --redis: distributed mode's servers (default: FLOW_NATS_URL, FLOW_REDIS_URL). */
export function withServerUrls(command: Command): Command {
  return command
    .option('--nats <url>', 'distributed mode: NATS server with JetStream (default: FLOW_NATS_URL)')
    .option('--redis <url>', 'distributed mode: Redis for the command queue (default: FLOW_REDIS_URL)');
}

export function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--port must be a whole number from 0 to 65535, not ${JSON.stringify(v)}`);
  return n;
}
