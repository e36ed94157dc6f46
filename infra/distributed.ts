import type { DistributedUrls } from './config.js';
import { startGatewayProcess, type GatewayProcess } from './gateway-process.js';
import { startHostProcess, type HostProcess } from './host-process.js';
import { closeInOrder } from './lifetime.js';

export interface DistributedUp {
  url: string;
  host: HostProcess;
  gateway: GatewayProcess;
  close(): Promise<void>;
}

/** `f up --nats … --redis …`: a host and a gateway in one process, wired through NATS and Redis as if apart. */
export async function startDistributedUp(opts: DistributedUrls & { port?: number; bind?: string; hostId?: string; log?: (line: string) => void }): Promise<DistributedUp> {
  let gatewayPort = -1;
  const host = await startHostProcess({ ...opts, gatewayPort: () => gatewayPort });
  let gateway: GatewayProcess;
  try {
    gateway = await startGatewayProcess({
      ...opts,
      nc: host.nc,
      live: host.live,
      opencode: host.services.opencode.runtime,
      refuse: host.services.refuseExposure,
    });
  } catch (err) {
    await host.close();
    throw err;
  }
  gatewayPort = gateway.port;
  let closing: Promise<void> | null = null;
  return {
    url: gateway.url,
    host,
    gateway,
    close: () =>
      (closing ??= closeInOrder([() => gateway.close(), () => host.close()])),
  };
}
