import type { ChildProcess } from 'node:child_process';
import { backendChildKind, backendLifeState, type BackendContext, type BackendSnapshot } from '../../actors/backend-child.js';
import type { ActorKind } from '../../actors/kind.js';
import type { EffectContext, KindServices } from '../host/effects.js';
import { procInfo, signalGroup, stopGroup, waitGroupGone } from '../host/proc.js';
import type { StartedRun } from '../host/supervised-spawn.js';
import type { EventStore } from '../store/event-store.js';
import { liveSubjects } from '../bus/names.js';
import type { LiveBus } from '../bus/types.js';
import { BackendLogFiles, type LogFileOptions } from './log-file.js';
import { MetricsSampler, type BackendMetrics } from './metrics.js';
import { OutputRecorder } from './output.js';
import { BackendWatcher } from './watcher.js';

export interface BackendServicesOptions {
  /** Where output lines go live. */
  live?: LiveBus;
  /** Lines of output kept per backend. */
  historyLines?: number;
  /** The longest output line kept, in UTF-8 bytes (default 64 KiB); a longer one is cut and marked. */
  maxLineBytes?: number;
  /** Where each backend's output is also written, rotated by size ($FLOW_HOME/logs); none → the table only. */
  logFiles?: LogFileOptions;
  /** Between CPU/memory samples of running backends (default 2 s). */
  metricsIntervalMs?: number;
}

interface Running {
  child: ChildProcess;
  pid: number;
  /** Set when Flow sent the signal that ends this run. */
  stopRequested: boolean;
  /** Why Flow stopped it, for the note its exit leaves in the log ("reload", "restart", ...). */
  stopReason: string | null;
  shuttingDown: boolean;
  graceMs: number;
  exited: Promise<void>;
  killTimer: NodeJS.Timeout | null;
}

export function outputSubject(name: string): string {
  return liveSubjects.output(backendChildKind.streamType, name);
}

/** The effects of backend-child: processes in their own group, output, file watching. */
export function backendChildServices(opts: BackendServicesOptions = {}): KindServices & { outputs(): OutputRecorder | null; metrics(streamId: string): BackendMetrics | null } {
  const running = new Map<string, Running>();
  const watchers = new Map<string, BackendWatcher>();
  let output: OutputRecorder | null = null;
  let files: BackendLogFiles | undefined;
  const sampler = new MetricsSampler(() => new Map([...running].map(([id, run]) => [id, run.pid])), {
    intervalMs: opts.metricsIntervalMs,
    onSample: (streamId, m) => opts.live?.publish(liveSubjects.metrics(backendChildKind.streamType, streamId.slice(streamId.indexOf(':') + 1)), m),
  });

  const ctxOf = (ctx: EffectContext) => ctx.snapshot.context as BackendContext;
  const note = (ctx: EffectContext, text: string) => output?.note(ctx.streamId, ctx.name, text);
  // A spawn failure goes to the log as well as into the event, so `f logs` shows why nothing runs.
  const spawnFailed = (ctx: EffectContext, error: string) => {
    note(ctx, error);
    ctx.observe('SPAWN_FAILED', { error });
  };

  function spawnProcess(ctx: EffectContext): void {
    const c = ctxOf(ctx);
    const config = c.config;
    if (!config) return spawnFailed(ctx, 'no configuration recorded for this backend');
    const [cmd, ...args] = config.command;
    const env: NodeJS.ProcessEnv = { ...process.env, ...config.env };
    if (config.port !== null) env.PORT = String(config.port);
    let child: ChildProcess;
    let started: StartedRun | null;
    try {
      ({ child, started } = ctx.spawn(cmd!, args, { cwd: config.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] }));
    } catch (err) {
      return spawnFailed(ctx, describeSpawnError(err, config.command, config.cwd));
    }
    if (!started) {
      child.once('error', (err) => spawnFailed(ctx, describeSpawnError(err, config.command, config.cwd)));
      return;
    }
    const pid = started.pid;
    let resolveExit!: () => void;
    const run: Running = {
      child,
      pid,
      stopRequested: false,
      stopReason: null,
      shuttingDown: false,
      graceMs: config.stopGraceMs,
      exited: new Promise<void>((r) => (resolveExit = r)),
      killTimer: null,
    };
    running.set(ctx.streamId, run);
    note(ctx, `started pid ${pid}: ${config.command.join(' ')}`);
    output?.attach(ctx.streamId, ctx.name, child);
    child.on('error', () => {
      /* reported through 'exit' */
    });
    child.once('exit', (code, signal) => {
      if (run.killTimer) clearTimeout(run.killTimer);
      if (running.get(ctx.streamId) === run) running.delete(ctx.streamId);
      // Whatever of the group outlives its leader would hold the port the next run needs.
      signalGroup(pid, 'SIGKILL');
      note(ctx, exitNote(run, code, signal));
      ctx.observe('PROCESS_EXITED', { pid, code, signal, cause: run.shuttingDown ? 'host-shutdown' : 'exit' });
      resolveExit();
    });
    ctx.observe('PROCESS_STARTED', { ...started });
  }

  function killProcess(ctx: EffectContext): void {
    const c = ctxOf(ctx);
    const run = running.get(ctx.streamId);
    const grace = c.config?.stopGraceMs ?? 5000;
    if (run) {
      if (run.stopRequested) return;
      run.stopRequested = true;
      run.stopReason = stopReason(ctx);
      note(ctx, run.stopReason === 'reload' ? `reloading: ${describeChange(c)}` : `${run.stopReason === 'restart' ? 'restarting' : 'stopping'} (SIGTERM to the process group)`);
      signalGroup(run.pid, 'SIGTERM');
      run.killTimer = setTimeout(() => signalGroup(run.pid, 'SIGKILL'), run.graceMs);
      run.killTimer.unref();
      return;
    }
    // No handle (adopted after a restart): stop the recorded group and report what happened.
    const pid = c.run?.pid;
    if (!pid) return;
    void stopGroup(pid, grace).then((signal) => {
      note(ctx, `stopped pid ${pid} (${signal ?? 'already gone'})`);
      ctx.observe('PROCESS_EXITED', { pid, code: null, signal, cause: 'exit' });
    });
  }

  return {
    kind: backendChildKind as unknown as ActorKind,
    effects: { spawnProcess, killProcess },
    outputs: () => output,
    metrics: (streamId) => (running.has(streamId) ? sampler.get(streamId) : null),

    attach(store: EventStore) {
      files = opts.logFiles ? new BackendLogFiles({ onError: (m) => process.emitWarning(m), ...opts.logFiles }) : undefined;
      output = new OutputRecorder(store, opts.historyLines ?? 1000, { maxLineBytes: opts.maxLineBytes, files });
      if (opts.live) output.useBus(opts.live);
      sampler.start();
    },

    sync(ctx) {
      const c = ctxOf(ctx);
      const life = backendLifeState(ctx.snapshot as BackendSnapshot);
      const wanted = c.config && c.config.watch.length > 0 && !['new', 'removed', 'stopped'].includes(life) ? c.config : null;
      const current = watchers.get(ctx.streamId);
      if (current && (!wanted || !current.matches(wanted))) {
        void current.close();
        watchers.delete(ctx.streamId);
      }
      if (wanted && !watchers.get(ctx.streamId)) {
        watchers.set(ctx.streamId, new BackendWatcher(wanted, (paths) => ctx.observe('FILES_CHANGED', { paths })));
      }
      if (life === 'removed') output?.forget(ctx.streamId);
    },

    recordedRun: (snapshot) => (snapshot.context as BackendContext).run,

    async reconcile(ctx) {
      const c = ctxOf(ctx);
      const life = backendLifeState(ctx.snapshot as BackendSnapshot);
      if (!['starting', 'running', 'stopping', 'restarting', 'removing'].includes(life)) return;
      if (!c.run) {
        if (life === 'starting') spawnFailed(ctx, 'Flow stopped before the process was recorded as started');
        return;
      }
      const { pid, startTicks } = c.run;
      const info = procInfo(pid);
      const same = info !== null && info.state !== 'Z' && (startTicks === null || info.startTicks === startTicks);
      // An orphan of a crashed host: its pipes are gone with the old host, so it cannot be
      // watched or logged; stop it (whole group) and let the machine start a fresh run.
      const signal = same ? await stopGroup(pid, c.config?.stopGraceMs ?? 5000) : null;
      ctx.observe('PROCESS_EXITED', { pid, code: null, signal, cause: 'host-lost' });
    },

    resumeEvent(snapshot) {
      return backendLifeState(snapshot as BackendSnapshot) === 'interrupted' ? { type: 'HOST_RESUMED', data: {} } : null;
    },

    async shutdown() {
      sampler.stop();
      for (const w of watchers.values()) void w.close();
      watchers.clear();
      const runs = [...running.values()];
      for (const run of runs) {
        run.shuttingDown = true;
        run.stopRequested = true;
        signalGroup(run.pid, 'SIGTERM');
      }
      await Promise.all(
        runs.map(async (run) => {
          const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), run.graceMs).unref());
          if ((await Promise.race([run.exited.then(() => 'exited' as const), timeout])) === 'timeout') {
            signalGroup(run.pid, 'SIGKILL');
            await run.exited;
          }
          await waitGroupGone(run.pid, 2000);
        }),
      );
      output?.flush();
      files?.close();
    },
  };
}

/**
 * Why Flow is ending this run, judged where the machine stands: a restart with a file change
 * during this run is the watcher's reload (the change settled and asked for it).
 */
function stopReason(ctx: EffectContext): 'reload' | 'restart' | 'stop' | 'remove' {
  const life = backendLifeState(ctx.snapshot as BackendSnapshot);
  if (life === 'removing') return 'remove';
  if (life !== 'restarting') return 'stop';
  const c = ctx.snapshot.context as BackendContext;
  return c.lastChange && c.run && c.lastChange.at >= c.run.startedAt ? 'reload' : 'restart';
}

function describeChange(c: BackendContext): string {
  const paths = c.lastChange?.paths ?? [];
  const shown = paths.slice(0, 3).join(', ');
  return `${shown}${paths.length > 3 ? ` and ${paths.length - 3} more` : ''} changed`;
}

function exitNote(run: Running, code: number | null, signal: NodeJS.Signals | null): string {
  const how = signal ? signal : `code ${String(code)}`;
  if (run.shuttingDown) return `stopped with Flow (${how})`;
  if (run.stopRequested) return run.stopReason === 'reload' ? `stopped for reload (${how})` : run.stopReason === 'restart' ? `stopped for restart (${how})` : `stopped (${how})`;
  return signal ? `killed by ${signal} (not sent by Flow)` : `exited with code ${String(code)}`;
}

function describeSpawnError(err: unknown, command: string[], cwd: string): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOENT') return `cannot run ${JSON.stringify(command[0])} in ${cwd}: no such program or working directory (check the command and --cwd)`;
  if (e?.code === 'EACCES') return `cannot run ${JSON.stringify(command[0])}: permission denied (is it executable?)`;
  return `cannot run ${JSON.stringify(command[0])}: ${e?.message ?? String(err)}`;
}
