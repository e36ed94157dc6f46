import { summary } from '../command-summaries.js';
import type CliProgressModule from 'cli-progress';
import type { Command } from 'commander';
import { api, apiBase } from '../client.js';
import { parseRealPort } from '../options.js';
import { printJson, printTable } from '../output.js';

/** `f tunnel`: expose a local port through a cloudflared quick tunnel, optionally behind a relay handle. */
interface TunnelView {
  name: string;
  status: string;
  port: number | null;
  url: string | null;
  pid: number | null;
  restarts: number;
  lastError: string | null;
  restartReason: string | null;
  relay: { username: string; tier: string; status: string; handleUrl: string | null; lastError: string | null } | null;
  download?: { program: string; version: string; url: string; status: 'downloading' | 'done'; receivedBytes: number; totalBytes: number | null } | null;
}

const WAIT_FOR_URL_MS = 45_000;
const DOWN = new Set(['stopped', 'failed', 'removed', 'new']);

function gatewayPort(): number {
  const u = new URL(apiBase());
  return Number(u.port || (u.protocol === 'https:' ? 443 : 80));
}

type CliProgress = typeof CliProgressModule;
type Download = NonNullable<TunnelView['download']>;

/**
 * The progress of a cloudflared download the host is doing for this start, drawn from the
 * checkpoints it records: a cli-progress bar on a terminal, plain lines otherwise (both on
 * stderr, so stdout keeps only the answer).
 */
function downloadDisplay(cliProgress: CliProgress | null): { show(d: Download): void; stop(): void } {
  let bar: InstanceType<CliProgress['SingleBar']> | null = null;
  let lastLine = '';
  return {
    show(d) {
      const total = d.totalBytes ?? 0;
      if (cliProgress) {
        if (!bar) {
          bar = new cliProgress.SingleBar({ format: `cloudflared ${d.version} [{bar}] {percentage}% {value}/{total} bytes`, stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
          bar.start(total, 0);
        }
        if (total) bar.setTotal(total);
        bar.update(d.receivedBytes);
        return;
      }
      const pct = total ? ` ${Math.floor((d.receivedBytes * 100) / total)}%` : '';
      const line = `f: downloading cloudflared ${d.version} from ${d.url}:${pct} (${d.receivedBytes}${total ? ` of ${total}` : ''} bytes)`;
      if (line !== lastLine) process.stderr.write(line + '\n');
      lastLine = line;
    },
    stop() {
      bar?.stop();
      bar = null;
    },
  };
}

async function waitForUrl(name: string): Promise<TunnelView> {
  let deadline = Date.now() + WAIT_FOR_URL_MS;
  const display = downloadDisplay(process.stderr.isTTY ? (await import('cli-progress')).default : null);
  let seen: number | null = null;
  try {
    for (;;) {
      const t = await api<TunnelView>('GET', `/api/tunnels/${encodeURIComponent(name)}`);
      if (t.status === 'downloading' && t.download) {
        display.show(t.download);
        // A download that moves is not a hung start: the wait for the URL starts after it.
        if (t.download.receivedBytes !== seen) deadline = Date.now() + WAIT_FOR_URL_MS;
        seen = t.download.receivedBytes;
      } else if (seen !== null && t.download?.status === 'done') {
        display.show(t.download);
        display.stop();
        process.stderr.write(`f: cloudflared ${t.download.version} downloaded and verified\n`);
        seen = null;
      }
      if (t.url || t.status === 'failed' || Date.now() > deadline) return t;
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    display.stop();
  }
}

/** With no name: the one tunnel that is up, or an error that lists the candidates. */
async function pickName(name: string | undefined, verb: string): Promise<string> {
  if (name) return name;
  const { tunnels } = await api<{ tunnels: TunnelView[] }>('GET', '/api/tunnels');
  const live = tunnels.filter((t) => !DOWN.has(t.status));
  if (live.length === 1) return live[0]!.name;
  if (live.length === 0) throw new Error(`no tunnel is running to ${verb}`);
  throw new Error(`several tunnels are running (${live.map((t) => t.name).join(', ')}): say which one to ${verb}`);
}

export function register(program: Command): void {
  const tunnel = program.command('tunnel').description(summary('tunnel'));

  tunnel
    .command('start')
    .description('start a tunnel to a local port (default: the Flow gateway, which needs a password set first)')
    .option('--port <n>', 'local port to expose (default: the gateway port)', parseRealPort)
    .option('--name <name>', 'tunnel name (default: port-<port>)')
    .option('--command <cmd>', 'tunnel program and args, space-separated; {port} is replaced (default: cloudflared tunnel --url http://localhost:{port} --no-autoupdate)')
    .option('--relay <url>', 'relay to register a stable handle with, e.g. https://relay.example.test')
    .option('--handle <username>', 'the handle to register on the relay')
    .option('--tier <tier>', 'relay tier: premium (<user>.<domain>) or free (<user>.my.<domain>)', 'premium')
    .option('--no-wait', 'return at once instead of waiting for the public URL')
    .option('--json', 'print JSON')
    .action(async (opts: { port?: number; name?: string; command?: string; relay?: string; handle?: string; tier: string; wait: boolean; json?: boolean }) => {
      const port = opts.port ?? gatewayPort();
      if ((opts.relay === undefined) !== (opts.handle === undefined)) throw new Error('--relay and --handle go together');
      const body: Record<string, unknown> = { port };
      if (opts.name) body.name = opts.name;
      if (opts.command) body.command = opts.command.split(/\s+/).filter(Boolean);
      if (opts.relay) body.relay = { url: opts.relay, username: opts.handle, tier: opts.tier };
      let t = await api<TunnelView>('POST', '/api/tunnels', body);
      if (opts.wait) t = await waitForUrl(t.name);
      if (opts.json) return printJson(t);
      if (t.url) process.stdout.write(`${t.name}: ${t.url} → http://localhost:${t.port}\n`);
      else if (t.status === 'failed') throw new Error(`${t.name} failed: ${t.lastError ?? 'unknown error'}`);
      else process.stdout.write(`${t.name}: ${t.status} (no public URL yet; see "f tunnel ls")\n`);
      if (t.relay) process.stdout.write(`relay: ${t.relay.handleUrl ?? `${t.relay.username} (${t.relay.status})`}\n`);
    });

  tunnel
    .command('ls')
    .description('list tunnels')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const { tunnels } = await api<{ tunnels: TunnelView[] }>('GET', '/api/tunnels');
      if (opts.json) return printJson(tunnels);
      printTable(
        tunnels.map((t) => ({
          name: t.name,
          status: t.status,
          port: t.port,
          url: t.url,
          pid: t.pid,
          restarts: t.restarts,
          relay: t.relay ? (t.relay.handleUrl ?? t.relay.username) + ` (${t.relay.status})` : null,
          note: t.lastError ?? t.restartReason,
        })),
        ['name', 'status', 'port', 'url', 'pid', 'restarts', 'relay', 'note'],
      );
    });

  for (const [verb, what] of [
    ['stop', 'stop a tunnel (and tell its relay)'],
    ['restart', 'restart a tunnel (it gets a new URL)'],
    ['rm', 'stop and remove a tunnel'],
  ] as const) {
    tunnel
      .command(`${verb} [name]`)
      .description(what)
      .action(async (name: string | undefined) => {
        const target = await pickName(name, verb);
        const t = await api<TunnelView>('POST', `/api/tunnels/${encodeURIComponent(target)}/${verb === 'rm' ? 'remove' : verb}`);
        process.stdout.write(`${t.name}: ${t.status}\n`);
      });
  }
}
