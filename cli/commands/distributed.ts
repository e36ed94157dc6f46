import { summary } from '../command-summaries.js';
import type { Command } from 'commander';
import type { DistributedUrls } from '../../infra/config.js';
import { listenPortFromEnv } from '../../infra/flow-url.js';
import { DEFAULT_BIND, DEFAULT_PORT } from '../../infra/locations.js';
import type { HostView } from '../../gateway/routes/hosts.js';
import { api, FlowApiError } from '../client.js';
import { printJson, printTable } from '../output.js';
import { parsePort, runUntilSignal, withServerUrls } from './up.js';

interface UrlFlags {
  nats?: string;
  redis?: string;
}

/** An embedded Flow has no /api/hosts: say what the command needs instead of "route not found". */
function notDistributed(command: string) {
  return (err: unknown): never => {
    if (err instanceof FlowApiError && err.status === 404 && !/^no host named/.test(err.message)) {
      throw new Error(`${command} talks to a distributed gateway (f gateway, or f up --nats ... --redis ...); the Flow at FLOW_URL runs one host only`);
    }
    throw err;
  };
}

async function requireUrls(command: string, flags: UrlFlags): Promise<DistributedUrls> {
  const { distributedUrls } = await import('../../infra/config.js');
  const urls = distributedUrls(flags);
  if (!urls) throw new Error(`f ${command} runs in distributed mode: give --nats and --redis (or FLOW_NATS_URL and FLOW_REDIS_URL), e.g. --nats nats://127.0.0.1:4222 --redis redis://127.0.0.1:6379`);
  return urls;
}

export function register(program: Command): void {
  const host = withServerUrls(program.command('host'))
    .description(summary('host'))
    .option('--id <name>', 'this host\'s id in events and queue names (default: FLOW_HOST_ID, else the machine name)', process.env.FLOW_HOST_ID)
    .action(async (opts: UrlFlags & { id?: string }) => {
      const urls = await requireUrls('host', opts);
      if (opts.id !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(opts.id)) throw new Error(`--id is 1-64 letters, digits, "-" or "_", not ${JSON.stringify(opts.id)}`);
      const { startHostProcess } = await import('../../infra/host-process.js');
      await runUntilSignal(
        () => startHostProcess({ ...urls, hostId: opts.id }),
        (host) => ({ banner: `Flow host ${host.hostId} is up (NATS ${urls.natsUrl}, Redis ${urls.redisUrl})`, what: `host ${host.hostId}` }),
      );
    });

  host
    .command('ls')
    .description('list the hosts the gateway at FLOW_URL has seen: the epoch of the log each writes, connected or not, its actors')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const { hosts } = await api<{ hosts: HostView[] }>('GET', '/api/hosts').catch(notDistributed('f host ls'));
      if (opts.json) return printJson(hosts);
      printTable(
        hosts.map((h) => ({ id: h.id, epoch: h.epoch?.slice(0, 8) ?? null, connected: h.connected === null ? '?' : h.connected ? 'yes' : 'no', actors: h.actors, retired: h.retired })),
        ['id', 'epoch', 'connected', 'actors', 'retired'],
      );
    });

  host
    .command('forget <id>')
    .description('a host gone for good: retire its actors in the gateway at FLOW_URL (they stay listed as retired, their names can be used again); refused while the host is connected')
    .action(async (id: string) => {
      const r = await api<{ id: string; retired: number }>('POST', `/api/hosts/${encodeURIComponent(id)}/forget`).catch(notDistributed('f host forget'));
      process.stdout.write(`forgot host ${r.id}: ${r.retired} actor(s) retired\n`);
    });

  withServerUrls(program.command('gateway'))
    .description(summary('gateway'))
    .option('--port <port>', `port to listen on (0 picks a free one; default FLOW_PORT, else PORT, else ${DEFAULT_PORT})`, (v) => parsePort(v))
    .option('--host <address>', 'address to bind', process.env.FLOW_BIND ?? DEFAULT_BIND)
    .action(async (opts: UrlFlags & { port?: number; host: string }) => {
      const port = opts.port ?? listenPortFromEnv() ?? DEFAULT_PORT;
      const urls = await requireUrls('gateway', opts);
      const { startGatewayProcess } = await import('../../infra/gateway-process.js');
      await runUntilSignal(
        () => startGatewayProcess({ ...urls, port, bind: opts.host }),
        (gateway) => ({ banner: `Flow gateway is up at ${gateway.url}`, what: 'the gateway' }),
      );
    });
}
