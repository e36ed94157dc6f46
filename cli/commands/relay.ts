import { summary } from '../command-summaries.js';
import type { Command } from 'commander';
import { join } from 'node:path';
import { flowHome } from '../../infra/locations.js';
import { parsePort } from '../options.js';

/** `f relay`: run the relay server (stable <user>.<domain> handles in front of quick tunnels). */
export function register(program: Command): void {
  const relay = program
    .command('relay')
    .description(summary('relay'))
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

  registerHandleCommands(relay);
}

interface HandleFlags {
  relay?: string;
  tier: string;
  json?: boolean;
}

function relayOf(flags: HandleFlags): string {
  const url = flags.relay ?? process.env.FLOW_RELAY_URL;
  if (!url) throw new Error('say which relay: --relay https://relay.example.test (or set FLOW_RELAY_URL)');
  return url;
}

function tierOf(raw: string, flag = '--tier'): 'premium' | 'free' {
  if (raw !== 'premium' && raw !== 'free') throw new Error(`${flag} is premium or free, not "${raw}"`);
  return raw;
}

/** `f relay handle check|register|rename|release`: a stable public name on a relay, as Fluxy's onboarding picks one. */
function registerHandleCommands(relay: Command): void {
  const handle = relay.command('handle').description('check, register, rename and release a relay handle (the token stays in $FLOW_HOME/relay-tokens.json, where tunnels with --relay use it)');
  const common = (c: Command) =>
    c
      .option('--relay <url>', 'the relay (default: FLOW_RELAY_URL)')
      .option('--tier <tier>', 'premium (<name>.<domain>) or free (<name>.my.<domain>)', 'premium')
      .option('--json', 'print JSON');
  const load = async () => {
    const [handles, { relayTokenStore }, { printJson }] = await Promise.all([import('../../services/tunnel/relay-handles.js'), import('../../services/tunnel/tokens.js'), import('../output.js')]);
    return { handles, tokens: relayTokenStore(flowHome()), printJson };
  };

  common(handle.command('check').description('is a name free on the relay?').argument('<name>')).action(async (name: string, flags: HandleFlags) => {
    const { handles, printJson } = await load();
    const r = await handles.checkHandle(relayOf(flags), handles.checkHandleName(name), tierOf(flags.tier));
    if (flags.json) return printJson(r);
    process.stdout.write(r.available ? `${name} is available (${r.tier})\n` : `${name} is not available (${r.tier}): ${r.message}\n`);
    if (!r.available) process.exitCode = 1;
  });

  common(handle.command('register').description('claim a name; its token is kept for this Flow only').argument('<name>')).action(async (name: string, flags: HandleFlags) => {
    const { handles, tokens, printJson } = await load();
    const v = await handles.registerHandle(relayOf(flags), name, tierOf(flags.tier), tokens);
    if (flags.json) return printJson(v);
    process.stdout.write(`registered ${v.username} (${v.tier}): ${v.url}\nstart a tunnel behind it: f tunnel start --relay ${relayOf(flags)} --handle ${v.username}${v.tier === 'free' ? ' --tier free' : ''}\n`);
  });

  common(handle.command('rename').description('change a handle this Flow registered to another free name (same token)').argument('<name>').argument('<new-name>'))
    .option('--new-tier <tier>', 'move it to another tier as well')
    .action(async (name: string, newName: string, flags: HandleFlags & { newTier?: string }) => {
      const { handles, tokens, printJson } = await load();
      const tier = tierOf(flags.tier);
      const v = await handles.renameHandle(relayOf(flags), { username: name, tier }, { username: newName, tier: flags.newTier ? tierOf(flags.newTier, '--new-tier') : tier }, tokens);
      if (flags.json) return printJson(v);
      process.stdout.write(`renamed ${name} to ${v.username} (${v.tier}): ${v.url}\ntunnels started with --handle ${name} keep their old name until restarted with --handle ${v.username}\n`);
    });

  common(handle.command('release').description('give a handle up (only the Flow that registered it can)').argument('<name>')).action(async (name: string, flags: HandleFlags) => {
    const { handles, tokens, printJson } = await load();
    const r = await handles.releaseHandle(relayOf(flags), name, tierOf(flags.tier), tokens);
    if (flags.json) return printJson(r);
    process.stdout.write(`released ${r.username} (${r.tier})\n`);
  });
}
