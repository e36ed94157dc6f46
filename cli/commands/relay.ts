import type { Command } from 'commander';
import { join } from 'node:path';
import { flowHome } from '../../infra/locations.js';
import { parsePort } from '../options.js';

/** `f relay`: run the relay server (stable <user>.<domain> handles in front of quick tunnels). */
export function register(program: Command): void {
  program
    .command('relay')
    .description('run a relay: <user>.<domain>, <domain>/<user> and <user>.my.<domain> forward to registered tunnels')
    .option('--port <n>', 'port to listen on', (v) => parsePort(v), 8787)
    .option('--bind <addr>', 'address to listen on', '127.0.0.1')
    .option('--domain <domain>', 'the domain handles live under (localhost works in browsers: bruno.localhost)', 'localhost')
    .option('--db <path>', 'registry database (default: $FLOW_HOME/relay.db)')
    .option('--public-scheme <scheme>', 'scheme of the handle URLs it hands out (http, or https behind TLS)', 'https')
    .option(
      '--tunnel-hosts <origins>',
      'tunnel origins handles may point at, comma-separated: [http://|https://]<host or *.domain>[:port] (default: FLOW_RELAY_TUNNEL_HOSTS, else https://*.trycloudflare.com)',
    )
    .action(async (opts: { port: number; bind: string; domain: string; db?: string; publicScheme: string; tunnelHosts?: string }) => {
      // Loaded here so `f --help` stays light.
      const [{ buildRelay }, { RelayRegistry }, { resolverFromEnv }, { parseTunnelOrigins, describeTunnelOrigins, QUICK_TUNNEL_ORIGINS }, { trustedProxiesFromEnv }] = await Promise.all([
        import('../../services/relay/app.js'),
        import('../../services/relay/registry.js'),
        import('../../services/tunnel/resolve.js'),
        import('../../services/relay/tunnel-origin.js'),
        import('../../services/net/client-address.js'),
      ]);
      if (opts.publicScheme !== 'http' && opts.publicScheme !== 'https') throw new Error('--public-scheme is http or https');
      if (!/^[a-z0-9.-]+$/i.test(opts.domain)) throw new Error(`--domain must be a host name, not ${opts.domain}`);
      const envHosts = process.env.FLOW_RELAY_TUNNEL_HOSTS?.trim();
      const tunnelOrigins =
        opts.tunnelHosts !== undefined ? parseTunnelOrigins(opts.tunnelHosts, '--tunnel-hosts') : envHosts ? parseTunnelOrigins(envHosts, 'FLOW_RELAY_TUNNEL_HOSTS') : undefined;
      const trusted = trustedProxiesFromEnv();
      const registry = new RelayRegistry(opts.db ?? join(flowHome(), 'relay.db'));
      const app = buildRelay({
        domain: opts.domain.toLowerCase(),
        registry,
        resolve: resolverFromEnv(),
        publicScheme: opts.publicScheme,
        tunnelOrigins,
        trustedProxies: trusted,
      });
      const address = await app.listen({ port: opts.port, host: opts.bind });
      process.stdout.write(
        `relay on ${address} for ${opts.domain} (handles: <user>.${opts.domain}, ${opts.domain}/<user>, <user>.my.${opts.domain}; tunnels: ${describeTunnelOrigins(tunnelOrigins ?? QUICK_TUNNEL_ORIGINS)})\n`,
      );
      const stop = () => {
        void app.close().then(() => {
          registry.close();
          process.exit(0);
        });
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
