import type { DistributedUrls } from './config.js';
import { startGatewayProcess, type GatewayProcess } from './gateway-process.js';
import { startHostProcess, type HostProcess } from './host-process.js';
import { startWithin } from './lifetime.js';

export interface DistributedUp {
  url: string;
  host: HostProcess;
  gateway: GatewayProcess;
  close(): Promise<void>;
}

/** `f up --nats … --redis …`: a host and a gateway in one process, wired through NATS and Redis as if apart. */
export function startDistributedUp(opts: DistributedUrls & { port?: number; bind?: string; hostId?: string; log?: (line: string) => void }): Promise<DistributedUp> {
  // The gateway closes first: it takes no more commands while the host stops.
  return startWithin(async (life) => {
    let gatewayPort = -1;
    const host = await startHostProcess({ ...opts, gatewayPort: () => gatewayPort });
    life.defer(() => host.close());
    const gateway: GatewayProcess = await startGatewayProcess({
      ...opts,
      nc: host.nc,
      live: host.live,
      opencode: host.services.opencode.runtime,
      refuse: host.services.refuseExposure,
      features: host.features,
    });
    life.defer(() => gateway.close());
    gatewayPort = gateway.port;
    return { url: gateway.url, host, gateway, close: () => life.close() };
  });
}
