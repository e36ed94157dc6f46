import { summary } from '../command-summaries.js';
import type { Command } from 'commander';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { flowHome } from '../../infra/locations.js';

/**
 * `f service install|uninstall` (pm2 startup): a systemd user unit on Linux, a launchd agent on
 * macOS, running `f up` in the foreground under the service manager (which restarts it and
 * keeps its log). The unit names this FLOW_HOME and the node and f that are running now.
 */
type Platform = 'linux' | 'darwin';

export const SERVICE_LABEL = 'dev.flow.agent';

export function unitPath(platform: Platform, env: NodeJS.ProcessEnv = process.env): string {
  const home = env.HOME ?? homedir();
  if (platform === 'darwin') return join(home, 'Library', 'LaunchAgents', `${SERVICE_LABEL}.plist`);
  const config = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(home, '.config');
  return join(config, 'systemd', 'user', 'flow.service');
}

/** systemd's quoting: a word with spaces, quotes or backslashes in double quotes, escaped. */
function systemdWord(s: string): string {
  return /^[A-Za-z0-9_./:=@+-]+$/.test(s) ? s : `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export function systemdUnit(o: { node: string; main: string; home: string }): string {
  return [
    '# Written by `f service install`; `f service uninstall` removes it.',
    '[Unit]',
    'Description=Flow: local control plane (f up)',
    'After=network.target',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${[o.node, o.main, 'up'].map(systemdWord).join(' ')}`,
    `Environment=${systemdWord(`FLOW_HOME=${o.home}`)}`,
    `WorkingDirectory=${systemdWord(o.home)}`,
    'Restart=on-failure',
    'RestartSec=2',
    // SIGTERM to f up only: it stops every child in order; whatever is left gets SIGKILL.
    'KillMode=mixed',
    'KillSignal=SIGTERM',
    'TimeoutStopSec=60',
    '',
    '[Install]',
    'WantedBy=default.target',
    '',
  ].join('\n');
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function launchdPlist(o: { node: string; main: string; home: string }): string {
  const log = join(o.home, 'flow.log');
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by \`f service install\`; \`f service uninstall\` removes it. -->
<plist version="1.0">
<dict>
  <key>Label</key><string>${SERVICE_LABEL}</string>
  <key>ProgramArguments</key>
  <array>
    <string>${xml(o.node)}</string>
    <string>${xml(o.main)}</string>
    <string>up</string>
  </array>
  <key>EnvironmentVariables</key>
  <dict><key>FLOW_HOME</key><string>${xml(o.home)}</string></dict>
  <key>WorkingDirectory</key><string>${xml(o.home)}</string>
  <key>RunAtLoad</key><true/>
  <key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>
  <key>StandardOutPath</key><string>${xml(log)}</string>
  <key>StandardErrorPath</key><string>${xml(log)}</string>
</dict>
</plist>
`;
}

function platformOf(v: string | undefined): Platform {
  const p = v ?? process.platform;
  if (p === 'linux' || p === 'darwin') return p;
  throw new Error(`f service knows systemd (linux) and launchd (darwin), not ${p}; run "f up -d" instead`);
}

export function register(program: Command): void {
  const service = program.command('service').description(summary('service'));

  service
    .command('install')
    .description('write the unit (Linux: $XDG_CONFIG_HOME/systemd/user/flow.service; macOS: ~/Library/LaunchAgents) and say how to enable it')
    .option('--platform <linux|darwin>', 'which service manager to write for (default: this machine)')
    .action((opts: { platform?: string }) => {
      const platform = platformOf(opts.platform);
      const path = unitPath(platform);
      const o = { node: process.execPath, main: resolve(process.argv[1]!), home: flowHome() };
      mkdirSync(dirname(path), { recursive: true });
      mkdirSync(o.home, { recursive: true });
      const existed = existsSync(path);
      writeFileSync(path, platform === 'linux' ? systemdUnit(o) : launchdPlist(o));
      process.stdout.write(`${existed ? 'Rewrote' : 'Wrote'} ${path} (f up for FLOW_HOME=${o.home})\n`);
      if (platform === 'linux') {
        process.stdout.write('Enable and start it:\n  systemctl --user daemon-reload\n  systemctl --user enable --now flow.service\n');
        process.stdout.write('Its log: journalctl --user -u flow -f. To run it while you are logged out too: loginctl enable-linger $USER\n');
      } else {
        process.stdout.write(`Load and start it:\n  launchctl bootstrap gui/$(id -u) ${path}\nIts log: ${join(o.home, 'flow.log')}\n`);
      }
    });

  service
    .command('uninstall')
    .description('remove the unit written by f service install')
    .option('--platform <linux|darwin>', 'which service manager (default: this machine)')
    .action((opts: { platform?: string }) => {
      const platform = platformOf(opts.platform);
      const path = unitPath(platform);
      if (!existsSync(path)) {
        process.stdout.write(`No Flow service installed (${path} does not exist)\n`);
        return;
      }
      rmSync(path);
      process.stdout.write(`Removed ${path}\n`);
      process.stdout.write(
        platform === 'linux'
          ? 'If it was enabled, also run:\n  systemctl --user disable --now flow.service\n  systemctl --user daemon-reload\n'
          : `If it was loaded, also run:\n  launchctl bootout gui/$(id -u)/${SERVICE_LABEL}\n`,
      );
    });
}
