import { statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { healthPolicyOf, instanceState, needsAttention, opencodeInstanceKind, type InstanceContext, type InstanceSnapshot, type SessionSummary } from '../../actors/opencode-instance/index.js';
import type { LiveBus } from '../bus/types.js';
import { defineServices, type EffectContext, type KindServices } from '../host/effects.js';
import { isAlive, signalGroup, stopGroup, waitGroupGone } from '../host/proc.js';
import { resolveOpencodeBin } from './bin.js';
import { OpencodeClient, type OpencodeEndpoint } from './client.js';
import { OpencodeEventStream } from './events.js';
import { attentionSubject, sessionSubject, type SessionFeedMessage } from './feed.js';
import { freePort } from '../host/ports.js';
import { spawnOpencode, type OpencodeProcess } from './process.js';
import { OpencodeRuntime, type LiveInstance } from './runtime.js';
import { callOpencodeEffect } from './session-calls.js';
import { EventTranslator } from './translate.js';
import { sessionView } from './views.js';
import { permissionRequest, questionRequest, sessionInfo } from './wire.js';

export interface OpencodeServicesOptions {
  live: LiveBus;
  /** FLOW_HOME: each instance keeps its opencode data under `<home>/opencode/<id>/`. */
  home: string;
  env?: NodeJS.ProcessEnv;
  /** After dispose and SIGTERM, how long before SIGKILL. */
  stopGraceMs?: number;
  log?: (line: string) => void;
  /** In-process observers only (the latency bench): told where a ready instance listens, with its password. */
  onReady?: (instanceId: string, endpoint: OpencodeEndpoint) => void;
}

/** One process Flow runs for an instance; `proc` is null while a port is being picked. */
interface Run {
  streamId: string;
  instanceId: string;
  directory: string;
  proc: OpencodeProcess | null;
  client: OpencodeClient | null;
  events: OpencodeEventStream | null;
  translator: EventTranslator | null;
  stopRequested: boolean;
  shuttingDown: boolean;
  done: Promise<void>;
  markDone: () => void;
}

const ctxOf = (ctx: EffectContext) => ctx.snapshot.context as InstanceContext;
const stateOf = (ctx: EffectContext) => instanceState(ctx.snapshot as InstanceSnapshot);

export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The effects of opencode-instance: spawning, readiness, the event stream, stopping, recovery. */
export function opencodeServices(opts: OpencodeServicesOptions): KindServices & { runtime: OpencodeRuntime } {
  const env = opts.env ?? process.env;
  const graceMs = opts.stopGraceMs ?? 3000;
  const log = opts.log ?? ((line: string) => process.stderr.write(`[flow opencode] ${line}\n`));
  const runs = new Map<string, Run>();
  /** The latest effect context of each actor (refreshed after every transition). */
  const latest = new Map<string, EffectContext>();
  const dataDirOf = (id: string) => join(opts.home, 'opencode', id);

  const publish = (instanceId: string, msg: SessionFeedMessage) => opts.live.publish(sessionSubject(instanceId, msg.sessionId), msg);

  function spawnProcess(ctx: EffectContext): void {
    const c = ctxOf(ctx);
    let bin: string;
    try {
      bin = resolveOpencodeBin(env);
    } catch (err) {
      return ctx.observe('SPAWN_FAILED', { error: (err as Error).message });
    }
    if (!isDirectory(c.directory)) return ctx.observe('SPAWN_FAILED', { error: `the working directory ${c.directory} does not exist (or is not a directory)` });
    let markDone!: () => void;
    const run: Run = {
      streamId: ctx.streamId,
      instanceId: c.id,
      directory: c.directory,
      proc: null,
      client: null,
      events: null,
      translator: null,
      stopRequested: false,
      shuttingDown: false,
      done: new Promise<void>((r) => (markDone = r)),
      markDone: () => markDone(),
    };
    runs.set(ctx.streamId, run);
    void launch(ctx, run, bin).catch((err: unknown) => log(`${ctx.streamId}: start failed: ${String(err)}`));
  }

  async function launch(ctx: EffectContext, run: Run, bin: string): Promise<void> {
    const port = await freePort();
    if (run.stopRequested) {
      runs.delete(run.streamId);
      run.markDone();
      return ctx.observe('SPAWN_FAILED', { error: 'stopped before opencode was started' });
    }
    let proc: OpencodeProcess;
    try {
      proc = spawnOpencode({ bin, cwd: run.directory, port, dataDir: dataDirOf(run.instanceId), env, spawn: ctx.spawn });
    } catch (err) {
      runs.delete(run.streamId);
      run.markDone();
      return ctx.observe('SPAWN_FAILED', { error: `cannot run ${bin}: ${(err as Error).message}` });
    }
    if (!proc.started) {
      runs.delete(run.streamId);
      run.markDone();
      const err = await proc.listening.then(() => null, (e: Error) => e);
      return ctx.observe('SPAWN_FAILED', { error: `cannot run ${bin}: ${err?.message ?? 'no process'}` });
    }
    run.proc = proc;
    const pid = proc.pid;
    let ready = false;
    void proc.exited.then(({ code, signal }) => {
      run.events?.close();
      if (runs.get(run.streamId) === run) runs.delete(run.streamId);
      // Whatever of its group outlives opencode (a tool's shell) goes with it.
      signalGroup(pid, 'SIGKILL');
      const tail = proc.tail();
      const portTaken = !ready && code === 1 && tail.some((l) => l.includes('ServeError'));
      const cause = run.shuttingDown ? 'host-shutdown' : run.stopRequested ? 'stopped' : 'exit';
      ctx.observe('PROCESS_EXITED', { pid, code, signal, cause, portTaken, tail });
      run.markDone();
    });
    ctx.observe('SPAWNED', { ...proc.started, port, bin });

    let url: string;
    try {
      url = await proc.listening;
    } catch {
      return; // it exited: reported above
    }
    const client = new OpencodeClient({ url, password: proc.password, directory: run.directory });
    // The listening line comes a moment before every route answers: confirm with the health endpoint.
    let version: string | null = null;
    for (;;) {
      if (run.stopRequested || runs.get(run.streamId) !== run) return;
      try {
        const h = await client.health(2000);
        if (h.healthy) {
          version = h.version ?? null;
          break;
        }
      } catch {
        /* not yet */
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    ready = true;
    run.client = client;
    run.translator = new EventTranslator({
      context: () => ctxOf(latest.get(run.streamId) ?? ctx),
      observe: (type, data) => {
        if (runs.get(run.streamId) === run) ctx.observe(type, data);
      },
      publish: (msg) => publish(run.instanceId, msg),
      fetchMessage: (sid, mid) => client.message(sid, mid),
      log: (line) => log(`${run.streamId}: ${line}`),
    });
    ctx.observe('READY', { url, version });
    opts.onReady?.(run.instanceId, client.endpoint);
    run.events = new OpencodeEventStream(client.endpoint, {
      onConnected: () => void resync(ctx, run),
      onEvent: (e) => run.translator?.handle(e),
    });
  }

  /** After every (re)connect: opencode's sessions, busy ones, and what waits for an answer. */
  async function resync(ctx: EffectContext, run: Run): Promise<void> {
    const client = run.client;
    if (!client) return;
    try {
      const [sessions, statuses, permissions, questions] = await Promise.all([client.listSessions(), client.statuses(), client.permissions(), client.questions()]);
      if (runs.get(run.streamId) !== run) return;
      ctx.observe('SESSIONS_SYNCED', {
        sessions: sessions.map(sessionInfo),
        busy: Object.entries(statuses)
          .filter(([, s]) => s.type !== 'idle')
          .map(([sessionId, s]) => ({ sessionId, status: s.type, detail: s.type === 'retry' ? `retry ${s.attempt ?? '?'}: ${s.message ?? ''}` : null })),
        permissions: permissions.map(permissionRequest),
        questions: questions.map(questionRequest),
      });
    } catch (err) {
      log(`${run.streamId}: re-sync after connecting failed: ${String(err)}`);
    }
  }

  /** Graceful: dispose (running turns end cleanly, their partial text kept), SIGTERM, SIGKILL. */
  async function stopRun(run: Run): Promise<void> {
    const proc = run.proc;
    if (!proc) return;
    if (run.client) await run.client.dispose(1000).catch(() => undefined);
    run.events?.close();
    signalGroup(proc.pid, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(proc.pid, 'SIGKILL'), graceMs);
    timer.unref();
    await run.done;
    clearTimeout(timer);
  }

  function stopProcess(ctx: EffectContext): void {
    const run = runs.get(ctx.streamId);
    if (run) {
      if (run.stopRequested) return;
      run.stopRequested = true;
      void stopRun(run);
      return;
    }
    // No handle: nothing was started in this Flow, or it is a process of a Flow that died.
    const c = ctxOf(ctx);
    const recorded = c.run;
    if (!recorded) return ctx.observe('PROCESS_EXITED', { pid: null, code: null, signal: null, cause: 'stopped' });
    const alive = isAlive(recorded.pid, recorded.startTicks);
    void (alive ? stopGroup(recorded.pid, graceMs) : Promise.resolve(null)).then((signal) =>
      ctx.observe('PROCESS_EXITED', { pid: recorded.pid, code: null, signal, cause: 'stopped' }),
    );
  }

  function killProcess(ctx: EffectContext): void {
    const run = runs.get(ctx.streamId);
    if (run) {
      run.stopRequested = true;
      run.events?.close();
      if (run.proc) signalGroup(run.proc.pid, 'SIGKILL');
      return;
    }
    const recorded = ctxOf(ctx).run;
    if (recorded && isAlive(recorded.pid, recorded.startTicks)) signalGroup(recorded.pid, 'SIGKILL');
  }

  /**
   * One tick of the watchdog: opencode's /global/health within the policy's timeout. A server
   * that is not this Flow's (none started here) cannot be asked, which is a failure too.
   */
  function checkHealth(ctx: EffectContext): void {
    const c = ctxOf(ctx);
    const checkId = c.health.checkId;
    const run = runs.get(ctx.streamId);
    const client = run?.client;
    if (!run || !client || run.stopRequested) return ctx.observe('HEALTH_FAILED', { checkId, error: 'no opencode process of this Flow serves this instance' });
    const current = () => runs.get(ctx.streamId) === run && !run.stopRequested;
    client.health(healthPolicyOf(c).timeoutMs).then(
      (h) => {
        if (!current()) return;
        if (h.healthy) ctx.observe('HEALTH_OK', { checkId, version: h.version ?? null });
        else ctx.observe('HEALTH_FAILED', { checkId, error: 'opencode answered that it is not healthy' });
      },
      (err: unknown) => {
        if (current()) ctx.observe('HEALTH_FAILED', { checkId, error: (err as Error).message });
      },
    );
  }

  const lastSessions = new Map<string, Record<string, SessionSummary>>();
  const removedDirs = new Set<string>();

  const runtime = new OpencodeRuntime((instanceId: string): LiveInstance | null => {
    for (const run of runs.values()) {
      if (run.instanceId === instanceId && run.client && run.translator && !run.stopRequested) return { client: run.client, translator: run.translator };
    }
    return null;
  });

  const services = defineServices(opencodeInstanceKind, {
    effects: { spawnProcess, stopProcess, killProcess, checkHealth, callOpencode: callOpencodeEffect(runtime, log) },

    sync(ctx) {
      latest.set(ctx.streamId, ctx);
      const c = ctxOf(ctx);
      // Session changes (whatever caused them: opencode, a crash, a restart) go out live.
      const before = lastSessions.get(ctx.streamId);
      if (before !== c.sessions) {
        lastSessions.set(ctx.streamId, c.sessions);
        for (const s of Object.values(c.sessions)) {
          const old = before?.[s.id];
          if (old === s || (old && JSON.stringify(old) === JSON.stringify(s))) continue;
          const view = sessionView(c.id, s);
          opts.live.publish(sessionSubject(c.id, s.id), { type: 'session', sessionId: s.id, session: view } satisfies SessionFeedMessage);
          if (!old ? needsAttention(s) : needsAttention(old) !== needsAttention(s) || JSON.stringify(old.permissions) !== JSON.stringify(s.permissions) || JSON.stringify(old.questions) !== JSON.stringify(s.questions)) {
            opts.live.publish(attentionSubject(c.id), { type: 'attention', session: view });
          }
        }
        for (const id of Object.keys(before ?? {})) {
          if (!c.sessions[id]) opts.live.publish(sessionSubject(c.id, id), { type: 'session.deleted', sessionId: id } satisfies SessionFeedMessage);
        }
      }
      // A removed instance's opencode data (its database, snapshots) goes once its process has.
      if (stateOf(ctx) === 'removed' && c.id && !runs.has(ctx.streamId) && !removedDirs.has(ctx.streamId)) {
        removedDirs.add(ctx.streamId);
        void rm(dataDirOf(c.id), { recursive: true, force: true }).catch(() => undefined);
      } else if (stateOf(ctx) !== 'removed') {
        removedDirs.delete(ctx.streamId);
      }
    },

    /**
     * A Flow that died (kill -9) left its opencode processes behind, without the password only
     * it held: each is found by PID and start time, stopped, and its instance marked interrupted
     * (its busy sessions too), to be started afresh. None is left running unaccounted for.
     */
    recordedRun: (snapshot) => (snapshot.context as InstanceContext).run,

    async reconcile(ctx) {
      latest.set(ctx.streamId, ctx);
      const state = stateOf(ctx);
      const c = ctxOf(ctx);
      if (!['starting', 'running', 'restarting', 'stopping', 'removing', 'error'].includes(state)) return;
      if (!c.run) {
        if (state !== 'error') ctx.observe('PROCESS_EXITED', { pid: null, code: null, signal: null, cause: 'host-lost' });
        return;
      }
      const { pid, startTicks } = c.run;
      const signal = isAlive(pid, startTicks) ? await stopGroup(pid, graceMs) : null;
      ctx.observe('PROCESS_EXITED', { pid, code: null, signal, cause: 'host-lost' });
    },

    /** Instances the host's going away interrupted run again, as they did before it. */
    resumeEvent(snapshot) {
      return instanceState(snapshot as InstanceSnapshot) === 'interrupted' ? { type: 'HOST_RESUMED', data: {} } : null;
    },

    async shutdown() {
      const all = [...runs.values()];
      for (const run of all) {
        run.shuttingDown = true;
        run.stopRequested = true;
      }
      await Promise.all(
        all.map(async (run) => {
          await stopRun(run);
          if (run.proc) await waitGroupGone(run.proc.pid, 2000);
        }),
      );
    },
  });
  return { ...services, runtime };
}

export { OpencodeRuntime } from './runtime.js';
