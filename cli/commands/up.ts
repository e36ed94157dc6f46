import { summary } from '../command-summaries.js';
import type { Command } from 'commander';
import { listenPortFromEnv } from '../../infra/flow-url.js';
import { DEFAULT_BIND, DEFAULT_PORT } from '../../infra/locations.js';
import { runUntilSignal } from '../../infra/lifetime.js';
import { parsePort } from '../options.js';

// infra/lifetime.ts imports nothing: cheap enough for f --help.
export { parsePort, runUntilSignal };

export function register(program: Command): void {
  withServerUrls(program
    .command('up'))
    .description(summary('up'))
    .option('--port <port>', `port for the gateway (0 picks a free one; default FLOW_PORT, else PORT, else ${DEFAULT_PORT})`, (v) => parsePort(v))
    .option('--host <address>', 'address to bind', process.env.FLOW_BIND ?? DEFAULT_BIND)
    .option('--open', 'open the dashboard in a browser once Flow is up (or OPEN_BROWSER=true)')
    .option('-d, --detach', 'run in the background (log: $FLOW_HOME/flow.log); returns once it answers')
    .option('--no-apply', 'do not apply ./flow.toml after the start')
    .action(async (opts: { port?: number; host: string; nats?: string; redis?: string; open?: boolean; detach?: boolean; apply: boolean }) => {
      // Read here, not when the command is defined: a bad PORT (a common name) fails f up only.
      const port = opts.port ?? listenPortFromEnv() ?? DEFAULT_PORT;
      if (opts.detach) {
        const { detachUp } = await import('../detach.js');
        const args = ['--port', String(port), '--host', opts.host, ...(opts.nats ? ['--nats', opts.nats] : []), ...(opts.redis ? ['--redis', opts.redis] : []), ...(opts.apply ? [] : ['--no-apply']), ...(opts.open ? ['--open'] : [])];
        return detachUp(args);
      }
      const [{ distributedUrls, flowHome, openBrowserWanted, publicDir }, { upBanner }, { DASHBOARD_PREFIX }] = await Promise.all([
        import('../../infra/config.js'),
        import('../../infra/banner.js'),
        import('../../gateway/dashboard-path.js'),
      ]);
      const urls = distributedUrls(opts);
      const what = 'backends and the gateway';
      // Checked before the start: a bad OPEN_BROWSER (or PUBLIC_DIR) stops it with its message.
      const open = opts.open === true || openBrowserWanted();
      const dashboardPath = publicDir() ? DASHBOARD_PREFIX : '/';
      const opened = async (url: string) => {
        if (!open) return;
        const { browsableUrl, openInBrowser } = await import('../../infra/open-browser.js');
        const target = new URL(dashboardPath, browsableUrl(url)).toString();
        process.stderr.write(`opening the dashboard: ${target}\n`);
        openInBrowser(target, (line) => process.stderr.write(`flow: ${line}\n`));
      };
      if (urls) {
        const { startDistributedUp } = await import('../../infra/distributed.js');
        const flow = await runUntilSignal(
          () => startDistributedUp({ ...urls, port, bind: opts.host }),
          (up) => ({
            banner: upBanner({
              title: `Flow is up at ${up.url} (distributed: host ${up.host.hostId}, NATS ${urls.natsUrl}, Redis ${urls.redisUrl})`,
              home: flowHome(),
              mode: `distributed: host ${up.host.hostId} and the gateway in this process, events on NATS JetStream ${urls.natsUrl}, commands through BullMQ on ${urls.redisUrl}`,
              recovered: up.host.host.recovered(),
            }),
            what,
          }),
        );
        await opened(flow.url);
        if (opts.apply) await applyHere(flow.url);
        return;
      }
      const { startEmbedded } = await import('../../infra/embedded.js');
      const flow = await runUntilSignal(
        () => startEmbedded({ port, bind: opts.host }),
        (up) => ({
          banner: upBanner({ title: `Flow is up at ${up.url}`, home: flowHome(), mode: 'embedded (one process: SQLite log in FLOW_HOME/flow.db, in-process bus and queue)', recovered: up.host.recovered() }),
          what,
        }),
      );
      await opened(flow.url);
      if (opts.apply) await applyHere(flow.url);
    });
}

/** `f up` in a directory with a flow.toml applies it once running; a bad file is reported, Flow stays up. */
async function applyHere(url: string): Promise<void> {
  const { existsSync } = await import('node:fs');
  const { resolve } = await import('node:path');
  const file = resolve('flow.toml');
  if (!existsSync(file)) return;
  const { loadFlowFile } = await import('../flow-file/load.js');
  const { applyFlowFile, callAt } = await import('../flow-file/apply.js');
  const { flowHome } = await import('../../infra/config.js');
  const { writeErr, writeOut } = await import('../../infra/lifetime.js');
  try {
    const result = await applyFlowFile({ call: callAt(url, `Flow at ${url} did not answer`), home: flowHome(), file: loadFlowFile(file), dryRun: false, out: (l) => writeOut(`[apply] ${l}\n`) });
    if (result.failed.length) writeErr(`[apply] ${result.failed.length} step(s) of ${file} failed; fix it and run f apply\n`);
  } catch (err) {
    writeErr(`[apply] ${file} was not applied: ${(err as Error).message}\n`);
  }
}

/** --nats and --redis: distributed mode's servers (default: FLOW_NATS_URL, FLOW_REDIS_URL). */
export function withServerUrls(command: Command): Command {
  return command
    .option('--nats <url>', 'distributed mode: NATS server with JetStream (default: FLOW_NATS_URL)')
    .option('--redis <url>', 'distributed mode: Redis for the command queue (default: FLOW_REDIS_URL)');
}
