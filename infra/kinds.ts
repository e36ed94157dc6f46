import { backendChildKind } from '../actors/backend-child/index.js';
import { opencodeInstanceKind } from '../actors/opencode-instance/index.js';
import { authIsConfigured } from '../services/auth/password.js';
import { backendChildServices } from '../services/backend-child/index.js';
import type { BackendMetrics } from '../services/backend-child/metrics.js';
import type { LiveBus } from '../services/bus/types.js';
import type { KindServices } from '../services/host/effects.js';
import { opencodeServices, type OpencodeRuntime } from '../services/opencode/index.js';
import type { OutputLine } from '../services/store/types.js';
import { gatewayExposureGuard, tunnelDepsFromEnv, tunnelServices } from '../services/tunnel/index.js';
import { logFileOptions, parseEnv } from './config.js';

export interface KindWiringOptions {
  home: string;
  live: LiveBus;
  log?: (line: string) => void;
  /** Refuses to expose a port (the gateway's own, while no password is set): the reason, or null. */
  refuseExposure: (port: number) => string | null;
}

/**
 * The one wiring list: the services of every kind an actor host runs, built from what the
 * process has. A new kind is its folders (actors/<kind>, services/<kind>) and one line here.
 */
export const kindWiring = [
  (o: KindWiringOptions) => backendChildServices({ live: o.live, maxLineBytes: parseEnv().FLOW_MAX_LINE_BYTES, logFiles: logFileOptions(o.home) }),
  (o: KindWiringOptions) => tunnelServices({ ...tunnelDepsFromEnv(o.home), refuse: o.refuseExposure }),
  (o: KindWiringOptions) => opencodeServices({ live: o.live, home: o.home, log: o.log }),
] as const satisfies readonly ((o: KindWiringOptions) => KindServices)[];

export interface HostKinds {
  /** What the ActorHost runs: one entry per kind of kindWiring. */
  readonly services: readonly KindServices[];
  /** Output lines of any actor, from the kind that keeps them. */
  outputLines(streamId: string, limit: number): OutputLine[];
  readonly refuseExposure: (port: number) => string | null;
  /** A running backend's CPU and memory figures, sampled by its kind's services (null when not running). */
  backendMetrics(streamId: string): BackendMetrics | null;
  /** The live opencode processes, for the reads that need one (tool parts, diffs, models); session calls go through the host. */
  readonly opencode: OpencodeRuntime;
}

/** The services of every kind, wired to one live bus, and what the gateway reads of them. */
export function hostKinds(opts: { home: string; live: LiveBus; log?: (line: string) => void; gatewayPort: () => number }): HostKinds {
  // A tunnel to the gateway itself is refused while no password is set.
  const refuseExposure = gatewayExposureGuard({ gatewayPort: opts.gatewayPort, hasPassword: () => authIsConfigured(opts.home) });
  const services = kindWiring.map((make) => make({ home: opts.home, live: opts.live, log: opts.log, refuseExposure }));
  const opencode = services.find((s): s is ReturnType<typeof opencodeServices> => s.kind === opencodeInstanceKind);
  if (!opencode) throw new Error('the wiring list has no opencode-instance services');
  const backends = services.find((s): s is ReturnType<typeof backendChildServices> => s.kind === backendChildKind);
  if (!backends) throw new Error('the wiring list has no backend-child services');
  return {
    services,
    refuseExposure,
    opencode: opencode.runtime,
    backendMetrics: (streamId) => backends.metrics(streamId),
    outputLines: (streamId, limit) => services.find((s) => streamId.startsWith(`${s.kind.streamType}:`))?.outputLines?.(streamId, limit) ?? [],
  };
}
