import type { ChildProcess } from 'node:child_process';
import { tunnelKind, tunnelStatus, type RelayConfig, type TunnelContext, type TunnelSnapshot } from '../../actors/tunnel/index.js';
import { liveSubjects } from '../bus/names.js';
import { defineServices, type EffectContext, type KindServices } from '../host/effects.js';
import { procInfo, signalGroup, stopGroup } from '../host/proc.js';
import type { StartedRun } from '../host/supervised-spawn.js';
import { which } from '../tool-install/backends/which.js';
import { cloudflaredPlan, ensureCloudflared, installedCloudflared, type CloudflaredPlan } from './cloudflared-download.js';
import { headCheck } from './health.js';
import { LineSplitter, parseTunnelLine } from './output.js';
import { RelayClient, RelayError } from './relay-client.js';
import { directResolver, resolverFromEnv, type UpstreamResolver } from './resolve.js';
import { memoryTokenStore, relayTokenStore, type TokenStore } from './tokens.js';

/** cloudflared's quick tunnel (reference/supervisors.md §4.1); `{port}` is the local port. */
export const DEFAULT_TUNNEL_COMMAND = ['cloudflared', 'tunnel', '--url', 'http://localhost:{port}', '--no-autoupdate'] as const;

export interface TunnelServicesDeps {
  /** argv for tunnels that name no command; `{port}` is replaced. Default: DEFAULT_TUNNEL_COMMAND. */
  command?: readonly string[];
  /** Where relay tokens are kept. Embedded wiring: relayTokenStore(home), i.e. `$FLOW_HOME/relay-tokens.json`. */
  tokens?: TokenStore;
  /** Where to dial for a public URL (health checks); tests map quick-tunnel names to loopback. */
  resolve?: UpstreamResolver;
  /** Refuses to expose a port: the reason, or null. See gatewayExposureGuard. */
  refuse?: (port: number) => string | null;
  /** TERM → KILL grace for the tunnel's process group (default 5 s, §4.4). */
  stopGraceMs?: number;
  /** Environment for the tunnel process (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /**
   * FLOW_HOME: where a missing cloudflared is downloaded to ($FLOW_HOME/bin) on first use. Without
   * it a missing cloudflared is an error, as before.
   */
  home?: string;
}

/** A tunnel to the gateway itself is refused while the gateway has no password (issue 7). */
export function gatewayExposureGuard(opts: { gatewayPort: number | (() => number); hasPassword: () => boolean }): (port: number) => string | null {
  // A function, because with --port 0 the gateway's port is known only once it listens.
  const gatewayPort = typeof opts.gatewayPort === 'function' ? opts.gatewayPort : () => opts.gatewayPort as number;
  return (port) =>
    port === gatewayPort() && !opts.hasPassword()
      ? `refusing to expose the gateway on port ${port} without a password: anyone with the URL would control Flow. Set one with "f auth set-password" first`
      : null;
}

interface Running {
  child: ChildProcess;
  pid: number;
  url: string | null;
  stopRequested: boolean;
  shuttingDown: boolean;
  rateLimited: boolean;
  tail: string[];
  exited: Promise<void>;
  timers: NodeJS.Timeout[];
}

const TAIL_LINES = 20;
const TAIL_BYTES = 2048;

export function tunnelOutputSubject(name: string): string {
  return liveSubjects.output(tunnelKind.streamType, name);
}

/** Observations arrive from callbacks long after the effect ran; a closed host must not crash us. */
function observe(ctx: EffectContext, type: string, data: Record<string, unknown>): void {
  try {
    ctx.observe(type, data);
  } catch (err) {
    process.stderr.write(`flow: tunnel ${ctx.name}: could not record ${type}: ${(err as Error).message}\n`);
  }
}

/** cloudflared and friends read TUNNEL_* settings that can hijack a quick tunnel (§4.5). */
function scrubbedEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (!k.startsWith('TUNNEL_')) out[k] = v;
  return out;
}

function describeSpawnError(err: unknown, program: string): { error: string; permanent: boolean } {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return { error: `${program} not found on PATH (install cloudflared, or start the tunnel with --command)`, permanent: true };
  if (code === 'EACCES') return { error: `${program} is not executable`, permanent: true };
  return { error: `${program}: ${(err as Error).message}`, permanent: false };
}

/** The effects of the tunnel kind: the tunnel process, the watchdog's probe, the relay client. */
export function tunnelServices(deps: TunnelServicesDeps = {}): KindServices {
  const running = new Map<string, Running>();
  const tokens = deps.tokens ?? memoryTokenStore();
  const resolve = deps.resolve ?? directResolver;
  const grace = deps.stopGraceMs ?? 5000;
  const ctxOf = (ctx: EffectContext) => ctx.snapshot.context as TunnelContext;
  const relayOf = (ctx: EffectContext): RelayConfig | null => ctxOf(ctx).config?.relay ?? null;
  // Shutdown needs the contexts of the running tunnels to tell their relays.
  const lastCtx = new Map<string, EffectContext>();

  /** Streams waiting for a cloudflared download, so a stop in the meantime does not spawn it afterwards. */
  const waiting = new Set<string>();

  /**
   * cloudflared is not on PATH: use $FLOW_HOME/bin/cloudflared, downloading it first if needed.
   * Progress is recorded as a few checkpoints (the CLI and dashboard draw them); the download's
   * outcome comes back as DOWNLOADED (then the start runs again) or SPAWN_FAILED.
   */
  function fetchThenSpawn(ctx: EffectContext, home: string, env: NodeJS.ProcessEnv): void {
    waiting.add(ctx.streamId);
    let nextMark = 0;
    let step = 0;
    const progress = {
      onStart: (plan: CloudflaredPlan, total: number | null) => {
        step = total ? Math.ceil(total / 10) : 4 * 1024 * 1024;
        nextMark = step;
        observe(ctx, 'DOWNLOAD_STARTED', { program: 'cloudflared', version: plan.version, url: plan.url.href, totalBytes: total });
        ctx.live.publish(tunnelOutputSubject(ctx.name), { fd: 'stderr', line: `flow: downloading cloudflared ${plan.version} from ${plan.url.href}`, at: new Date().toISOString() });
      },
      onWarning: (line: string) => {
        ctx.live.publish(tunnelOutputSubject(ctx.name), { fd: 'stderr', line: `flow: warning: ${line}`, at: new Date().toISOString() });
      },
      onData: (received: number, total: number | null) => {
        if (received < nextMark || (total !== null && received >= total)) return;
        nextMark = received + step;
        observe(ctx, 'DOWNLOAD_PROGRESS', { receivedBytes: received, totalBytes: total });
      },
    };
    ensureCloudflared(home, env, progress).then(
      (got) => {
        if (!waiting.delete(ctx.streamId)) return;
        // Someone else put it there meanwhile: nothing was downloaded for this start, so just start.
        if (!got.downloaded) return spawnTunnel(ctx);
        const rec = got.record;
        observe(ctx, 'DOWNLOADED', { program: 'cloudflared', version: rec?.version ?? 'unknown', path: got.path, bytes: rec?.bytes ?? 0, sha256: rec?.sha256 ?? '' });
      },
      (err: unknown) => {
        if (!waiting.delete(ctx.streamId)) return;
        const step = (err as { step?: string }).step;
        // Wrong bytes or a bad setting stay wrong on a retry; a network failure may not.
        const permanent = step === 'checksum' || step === 'request' || step === 'extract';
        observe(ctx, 'SPAWN_FAILED', { error: `cloudflared is not on PATH and downloading it failed: ${(err as Error).message}`, permanent });
      },
    );
  }

  function spawnTunnel(ctx: EffectContext): void {
    const config = ctxOf(ctx).config;
    if (!config) return observe(ctx, 'SPAWN_FAILED', { error: 'no configuration recorded for this tunnel', permanent: true });
    const refusal = deps.refuse?.(config.port) ?? null;
    if (refusal) return observe(ctx, 'SPAWN_FAILED', { error: refusal, permanent: true });
    const argv = (config.command ?? deps.command ?? DEFAULT_TUNNEL_COMMAND).map((w) => w.replaceAll('{port}', String(config.port)));
    const [first, ...args] = argv as [string, ...string[]];
    let program = first;
    const env = deps.env ?? process.env;
    if (program === 'cloudflared' && deps.home && !which('cloudflared', env)) {
      let present;
      try {
        present = installedCloudflared(cloudflaredPlan(deps.home, env), deps.home);
      } catch (err) {
        return observe(ctx, 'SPAWN_FAILED', { error: `cloudflared is not on PATH and cannot be downloaded: ${(err as Error).message}`, permanent: true });
      }
      if (!present) return fetchThenSpawn(ctx, deps.home, env);
      program = present.path;
    }
    let child: ChildProcess;
    let started: StartedRun | null;
    try {
      // Its own process group, so a stop reaches everything it started.
      ({ child, started } = ctx.spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], env: scrubbedEnv(deps.env ?? process.env) }));
    } catch (err) {
      return observe(ctx, 'SPAWN_FAILED', describeSpawnError(err, program));
    }
    if (!started) {
      child.once('error', (err) => observe(ctx, 'SPAWN_FAILED', describeSpawnError(err, program)));
      return;
    }
    const pid = started.pid;
    let resolveExit!: () => void;
    const run: Running = { child, pid, url: null, stopRequested: false, shuttingDown: false, rateLimited: false, tail: [], exited: new Promise((r) => (resolveExit = r)), timers: [] };
    running.set(ctx.streamId, run);
    lastCtx.set(ctx.streamId, ctx);
    observe(ctx, 'PROCESS_STARTED', { ...started });

    const onLine = (fd: 'stdout' | 'stderr') => (line: string) => {
      if (!line.trim()) return;
      ctx.live.publish(tunnelOutputSubject(ctx.name), { fd, line, at: new Date().toISOString() });
      run.tail.push(line);
      if (run.tail.length > TAIL_LINES) run.tail.shift();
      const parsed = parseTunnelLine(line);
      if (parsed.kind === 'url' && run.url === null) {
        run.url = parsed.url;
        observe(ctx, 'URL_ANNOUNCED', { pid, url: parsed.url });
      } else if (parsed.kind === 'connected') {
        observe(ctx, 'TUNNEL_CONNECTED', { pid, location: parsed.location, protocol: parsed.protocol, connIndex: parsed.connIndex });
      } else if (parsed.kind === 'rate-limited') {
        run.rateLimited = true;
      }
    };
    const splitters = { stdout: new LineSplitter(), stderr: new LineSplitter() };
    for (const fd of ['stdout', 'stderr'] as const) {
      // Always drain both pipes: an unread pipe blocks the child.
      child[fd]!.setEncoding('utf8');
      child[fd]!.on('data', (chunk: string) => splitters[fd].push(chunk, onLine(fd)));
    }
    child.on('error', () => {
      /* reported through 'exit' */
    });

    let reported = false;
    const report = (code: number | null, signal: NodeJS.Signals | null) => {
      if (reported) return;
      reported = true;
      for (const fd of ['stdout', 'stderr'] as const) splitters[fd].flush(onLine(fd));
      for (const t of run.timers) clearTimeout(t);
      if (running.get(ctx.streamId) === run) running.delete(ctx.streamId);
      const lastStderr = run.tail.join('\n').slice(-TAIL_BYTES);
      observe(ctx, 'PROCESS_EXITED', { pid, code, signal, cause: run.shuttingDown ? 'host-shutdown' : 'exit', rateLimited: run.rateLimited, lastStderr });
      resolveExit();
    };
    child.once('exit', (code, signal) => {
      // Whatever of the group outlives its leader would keep the old tunnel half alive.
      signalGroup(pid, 'SIGKILL');
      // Give the pipes a moment to deliver the last lines (a 429 explains the exit).
      const t = setTimeout(() => report(code, signal), 500);
      t.unref();
      child.once('close', () => report(code, signal));
    });
  }

  /** SIGTERM to the group; cloudflared's second SIGTERM skips its 30 s grace (§4.4); then SIGKILL. */
  function terminate(run: Running): void {
    if (run.stopRequested) return;
    run.stopRequested = true;
    signalGroup(run.pid, 'SIGTERM');
    const again = setTimeout(() => signalGroup(run.pid, 'SIGTERM'), Math.min(2000, grace));
    const kill = setTimeout(() => signalGroup(run.pid, 'SIGKILL'), grace);
    again.unref();
    kill.unref();
    run.timers.push(again, kill);
  }

  function killTunnel(ctx: EffectContext): void {
    // A start still waiting for cloudflared's download will not spawn when it arrives.
    waiting.delete(ctx.streamId);
    const run = running.get(ctx.streamId);
    if (run) return terminate(run);
    // No handle (a run recorded by an earlier host): stop the recorded group and report it.
    const rec = ctxOf(ctx).run;
    if (!rec) return;
    void stopGroup(rec.pid, grace).then((signal) => observe(ctx, 'PROCESS_EXITED', { pid: rec.pid, code: null, signal, cause: 'exit' }));
  }

  function checkHealth(ctx: EffectContext): void {
    const c = ctxOf(ctx);
    const checkId = c.health.checkId;
    if (!c.url) return observe(ctx, 'HEALTH_FAILED', { checkId, error: 'no public URL', status: null });
    void headCheck(c.url, { resolve }).then((r) =>
      r.ok ? observe(ctx, 'HEALTH_OK', { checkId, status: r.status }) : observe(ctx, 'HEALTH_FAILED', { checkId, error: r.error, status: r.status }),
    );
  }

  function relayFailure(ctx: EffectContext, stage: RelayError['stage'], err: unknown): void {
    observe(ctx, 'RELAY_FAILED', { stage: err instanceof RelayError ? err.stage : stage, error: (err as Error).message });
  }

  function relayAnnounce(ctx: EffectContext): void {
    const relay = relayOf(ctx);
    const url = ctxOf(ctx).url;
    if (!relay || !url) return;
    new RelayClient(relay, tokens).announce(url).then(
      (handleUrl) => observe(ctx, 'RELAY_ONLINE', { handleUrl, tunnelUrl: url }),
      (err: unknown) => relayFailure(ctx, 'tunnel', err),
    );
  }

  function relayHeartbeat(ctx: EffectContext): void {
    const relay = relayOf(ctx);
    const c = ctxOf(ctx);
    if (!relay || !c.url) return;
    const url = c.url;
    new RelayClient(relay, tokens).heartbeat(url).then(
      // Steady heartbeats are not news; only a recovery is recorded.
      (handleUrl) => {
        if (c.relay.status !== 'online') observe(ctx, 'RELAY_ONLINE', { handleUrl, tunnelUrl: url });
      },
      (err: unknown) => relayFailure(ctx, 'heartbeat', err),
    );
  }

  async function disconnect(ctx: EffectContext, relay: RelayConfig): Promise<void> {
    try {
      if (await new RelayClient(relay, tokens).disconnect()) observe(ctx, 'RELAY_DISCONNECTED', {});
    } catch (err) {
      relayFailure(ctx, 'disconnect', err);
    }
  }

  function relayDisconnect(ctx: EffectContext): void {
    const relay = relayOf(ctx);
    if (relay) void disconnect(ctx, relay);
  }

  return defineServices(tunnelKind, {
    effects: { spawnTunnel, killTunnel, checkHealth, relayAnnounce, relayHeartbeat, relayDisconnect },

    sync(ctx) {
      const status = tunnelStatus(ctx.snapshot as TunnelSnapshot);
      if (['new', 'stopped', 'removed', 'failed'].includes(status)) lastCtx.delete(ctx.streamId);
      else lastCtx.set(ctx.streamId, ctx);
    },

    recordedRun: (snapshot) => (snapshot.context as TunnelContext).run,

    async reconcile(ctx) {
      const c = ctxOf(ctx);
      const status = tunnelStatus(ctx.snapshot as TunnelSnapshot);
      if (!['starting', 'downloading', 'connected', 'checking', 'restarting', 'stopping', 'removing'].includes(status)) return;
      if (!c.run) {
        if (status === 'starting') observe(ctx, 'SPAWN_FAILED', { error: 'Flow stopped before the tunnel process was recorded as started', permanent: false });
        if (status === 'downloading') observe(ctx, 'SPAWN_FAILED', { error: 'Flow stopped while cloudflared was downloading; it will download again', permanent: false });
        return;
      }
      const { pid, startTicks } = c.run;
      const info = procInfo(pid);
      const same = info !== null && info.state !== 'Z' && (startTicks === null || info.startTicks === startTicks);
      // An orphan's stderr went with the old host, so its URL changes can't be followed: stop
      // it and let the machine start a fresh run (which tells the relay the new URL).
      const signal = same ? await stopGroup(pid, grace) : null;
      observe(ctx, 'PROCESS_EXITED', { pid, code: null, signal, cause: 'host-lost', rateLimited: false, lastStderr: '' });
    },

    resumeEvent(snapshot) {
      return tunnelStatus(snapshot as TunnelSnapshot) === 'interrupted' ? { type: 'HOST_RESUMED', data: {} } : null;
    },

    async shutdown() {
      const waits: Promise<unknown>[] = [];
      for (const [streamId, run] of running) {
        run.shuttingDown = true;
        terminate(run);
        waits.push(run.exited);
        const ctx = lastCtx.get(streamId);
        const relay = ctx ? relayOf(ctx) : null;
        // Graceful shutdown tells the relay at once, instead of 120 s of silence (seed 002).
        if (ctx && relay) waits.push(disconnect(ctx, relay));
      }
      await Promise.all(waits);
    },
  });
}

/**
 * The process-level settings of tunnels: FLOW_TUNNEL_COMMAND (a JSON argv array, or words
 * separated by spaces; `{port}` replaced) overrides cloudflared; relay tokens live in
 * `<home>/relay-tokens.json`; FLOW_TUNNEL_RESOLVE_DIR is the test hook of resolve.ts.
 */
export function tunnelDepsFromEnv(home: string, env: NodeJS.ProcessEnv = process.env): Pick<TunnelServicesDeps, 'command' | 'tokens' | 'resolve' | 'home'> {
  const raw = env.FLOW_TUNNEL_COMMAND?.trim();
  let command: string[] | undefined;
  if (raw) {
    command = raw.startsWith('[') ? (JSON.parse(raw) as string[]) : raw.split(/\s+/);
    if (!Array.isArray(command) || command.length === 0 || command.some((w) => typeof w !== 'string' || !w)) throw new Error('FLOW_TUNNEL_COMMAND must be a JSON array of words or a space-separated command');
  }
  return { command, tokens: relayTokenStore(home), resolve: resolverFromEnv(env), home };
}
