import { authIsConfigured } from '../services/auth/password.js';
import { backendChildServices } from '../services/backend-child/index.js';
import type { LiveBus } from '../services/bus/types.js';
import { opencodeServices } from '../services/opencode/index.js';
import { logFileOptions, parseEnv } from './config.js';
import { gatewayExposureGuard, tunnelDepsFromEnv, tunnelServices } from '../services/tunnel/index.js';

/** What an actor host runs: the services of every long-lived kind, wired to one live bus. */
export function hostKindServices(opts: { home: string; live: LiveBus; log?: (line: string) => void; gatewayPort: () => number }) {
  const backends = backendChildServices({ live: opts.live, maxLineBytes: parseEnv().FLOW_MAX_LINE_BYTES, logFiles: logFileOptions(opts.home) });
  // A tunnel to the gateway itself is refused while no password is set.
  const refuseExposure = gatewayExposureGuard({ gatewayPort: opts.gatewayPort, hasPassword: () => authIsConfigured(opts.home) });
  const tunnels = tunnelServices({ ...tunnelDepsFromEnv(opts.home), refuse: refuseExposure });
  const opencode = opencodeServices({ live: opts.live, home: opts.home, log: opts.log });
  return { backends, tunnels, opencode, refuseExposure, all: [backends, tunnels, opencode] as const };
}
