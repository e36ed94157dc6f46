import type { Command } from '../../actors/index.js';
import { randomUUID } from 'node:crypto';
import { dirname } from 'node:path';
import { commandRouter, type AnyKind as ActorKind } from '../../actors/kind.js';
import type { LiveBus } from '../bus/types.js';
import type { EventMeta } from '../store/envelope.js';
import type { EventStore } from '../store/types.js';
import { ConcurrencyError, isPassingWriteFailure } from '../store/errors.js';
import { HeldObservations } from './held-observations.js';
import { commandError, type KindCommand, type CommandMeta, type CommandResult } from './commands.js';
import { systemClock, type Clock, type EffectContext, type KindServices } from './effects.js';
import { fold, type Snapshot } from '../../actors/fold.js';
import { recoverActors, refoldActor } from './recover.js';
import { stopUnowned, type HomeProcess } from './orphans.js';
import { homeIdOf, spawnSupervised, type Spawner } from './supervised-spawn.js';
import { InvalidEventError, RejectedCommandError, recordEvent } from './writer.js';

interface LiveActor {
  streamId: string;
  services: KindServices;
  snapshot: Snapshot;
  version: number;
  /** The id of the last event applied: the spawn id of a spawn its transition asked for. */
  eventId: string;
}

export interface HostOptions {
  store: EventStore;
  live: LiveBus;
  services: readonly KindServices[];
  clock?: Clock;
  log?: (line: string) => void;
  /** The marker of this host's processes; default: one of the FLOW_HOME its log lives in. */
  homeId?: string;
  /** Grace (SIGTERM → SIGKILL) for processes of this FLOW_HOME that the log does not own. */
  orphanGraceMs?: number;
  /**
   * False for a host whose kinds run no process (the one `f install` runs for tool-install): it
   * leaves the processes of this FLOW_HOME alone, which only the host of every kind may judge.
   */
  supervises?: boolean;
}

/**
 * Runs actors: every event is stored (with its projection and timers) before any effect runs;
 * on start every actor is folded from its log, reconciled with the world, and its pending
 * timers are re-armed for the time they have left.
 */
export class ActorHost {
  private readonly store: EventStore;
  private readonly live: LiveBus;
  private readonly clock: Clock;
  private readonly log: (line: string) => void;
  private readonly homeId: string;
  private readonly orphanGraceMs: number;
  private readonly supervises: boolean;
  private readonly byType = new Map<string, KindServices>();
  private readonly route: ReturnType<typeof commandRouter<ActorKind>>;
  private readonly actors = new Map<string, LiveActor>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Spawn ids of this host's living children: never taken for orphans, whatever the log says yet. */
  private readonly spawned = new Set<string>();
  private readonly queue: (() => void)[] = [];
  private draining = false;
  private recoveryChanges: RecoveryChange[] = [];
  private stopping = false;
  private readonly held: HeldObservations;

  private constructor(opts: HostOptions) {
    this.store = opts.store;
    this.live = opts.live;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? ((line) => process.stderr.write(`[flow host] ${line}\n`));
    // The log lives in FLOW_HOME; a log in memory owns no process anyone could find again.
    this.homeId = opts.homeId ?? (this.store.path === null ? randomUUID() : homeIdOf(dirname(this.store.path)));
    this.orphanGraceMs = opts.orphanGraceMs ?? 3000;
    this.supervises = opts.supervises ?? true;
    for (const s of opts.services) {
      this.byType.set(s.kind.streamType, s);
      s.attach?.(this.store);
    }
    this.route = commandRouter(opts.services.map((s) => s.kind));
    this.held = new HeldObservations({
      deliver: (o) => {
        const a = this.actors.get(o.streamId);
        if (!a) this.log(`dropped ${o.type} for unknown actor ${o.streamId}`);
        else this.deliverNow(a.services, o.streamId, o.type, o.data, o.meta, o.at);
      },
      schedule: (fn) => void this.enqueue(fn),
      now: () => this.clock.now(),
      log: this.log,
      where: this.store.path,
    });
  }

  static async start(opts: HostOptions): Promise<ActorHost> {
    const host = new ActorHost(opts);
    await host.recover();
    return host;
  }

  get hostId(): string {
    return this.store.host;
  }

  snapshotOf(streamId: string): { snapshot: Snapshot; version: number } | undefined {
    const a = this.actors.get(streamId);
    return a && { snapshot: a.snapshot, version: a.version };
  }

  /**
   * Folds one actor again from its whole stream, in the host's queue (no event lands in
   * between); if its stored projection disagreed, that is rebuilt and the live actor replaced.
   * The background verifier calls this for each difference it finds. True if it repaired.
   */
  refold(streamId: string): Promise<boolean> {
    return this.enqueue(() => {
      const a = this.actors.get(streamId);
      if (!a) return false;
      const r = refoldActor(this.store, a.services.kind, streamId);
      if (!r) return false;
      const changed = r.repaired || JSON.stringify(r.actor.snapshot.value) !== JSON.stringify(a.snapshot.value) || JSON.stringify(r.actor.snapshot.context) !== JSON.stringify(a.snapshot.context);
      if (changed) {
        const actor = { ...a, snapshot: r.actor.snapshot, version: r.actor.version, eventId: r.actor.eventId };
        this.actors.set(streamId, actor);
        this.sync(actor);
      }
      return changed;
    });
  }

  /** The typed entry point for every command, whatever queue it came through. */
  async dispatch(command: Command | KindCommand, meta: CommandMeta = {}): Promise<CommandResult> {
    if (this.stopping) return commandError('unavailable', 'Flow is shutting down; try again when it is back');
    const routed = this.route(command);
    if (!routed) return commandError('invalid', `no actor kind handles the command ${command.type}`);
    const services = this.byType.get(routed.kind.streamType)!;
    const t = routed.event;
    const existing = this.actors.get(t.streamId);
    if (!existing && !t.creates) return commandError('not_found', `${t.streamId} does not exist`);
    return this.enqueue(() => {
      // A queued command that is delivered again (its worker died before acknowledging it) was
      // already applied if its id is in the stream: answer what it did then, do not do it twice.
      const earlier = meta.causationId ? this.findCaused(t.streamId, meta.causationId) : undefined;
      if (earlier) return earlier;
      // What the world did is written first, so the command is judged on the state it left.
      if (!this.held.flush()) return commandError('unavailable', this.held.refusal()!);
      try {
        const env = this.deliverNow(services, t.streamId, t.type, t.data, meta);
        return { ok: true as const, streamId: t.streamId, version: env.version, status: env.status, position: env.position };
      } catch (err) {
        if (err instanceof RejectedCommandError) {
          // One answer to a request the machine cannot take: the kind's reason, in a user's words.
          return commandError(t.creates ? 'conflict' : 'invalid_state', err.message);
        }
        if (err instanceof InvalidEventError) return commandError('invalid', err.message);
        if (err instanceof ConcurrencyError) return commandError('conflict', err.message);
        if (isPassingWriteFailure(err)) return commandError('unavailable', this.held.refusal(err)!);
        throw err;
      }
    });
  }

  private findCaused(streamId: string, causationId: string): CommandResult | undefined {
    const row = this.store.eventCausedBy(streamId, causationId);
    const actor = this.actors.get(streamId);
    if (!row || !actor) return undefined;
    return { ok: true, streamId, version: row.version, status: actor.services.kind.status(actor.snapshot as never), position: row.position };
  }

  /** Appends an observation from the world to an actor's stream, then applies it. */
  observe(streamId: string, type: string, data: Record<string, unknown>, meta: EventMeta = {}): Promise<void> {
    // Held (in order) while the log cannot be written: it happened, so it is recorded once it can be.
    return this.enqueue(() => this.held.observe({ streamId, type, data, meta }));
  }

  /** Stops timers and watchers, then every process the kinds run (their exits are recorded). */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await Promise.all([...this.byType.values()].map((s) => s.shutdown?.()));
    await this.enqueue(() => this.held.stop());
  }

  // Runs host work one item at a time, so an effect that observes something synchronously
  // is applied after the event that caused it, never in the middle of it.
  private enqueue<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push(() => {
        try {
          resolve(fn());
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
      if (!this.draining) this.drain();
    });
  }

  private drain(): void {
    this.draining = true;
    try {
      while (this.queue.length > 0) this.queue.shift()!();
    } finally {
      this.draining = false;
    }
  }

  private deliverNow(services: KindServices, streamId: string, type: string, data: Record<string, unknown>, meta: EventMeta, at = this.clock.now()) {
    const kind = services.kind;
    const current = this.actors.get(streamId) ?? { snapshot: fold(kind, []), version: 0 };
    const rec = recordEvent(this.store, kind, streamId, current, { type, data, meta, at });
    const actor: LiveActor = { streamId, services, snapshot: rec.snapshot, version: rec.envelope.version, eventId: rec.envelope.id };
    this.actors.set(streamId, actor);
    this.runActions(actor, rec.actions, Date.parse(rec.envelope.at));
    return { version: rec.envelope.version, position: rec.envelope.position, status: kind.status(rec.snapshot as never) };
  }

  private runActions(actor: LiveActor, actions: readonly { type: string; params?: unknown }[], atMs: number): void {
    const ctx = this.contextFor(actor);
    for (const a of actions) {
      const p = a.params as { delay?: number; id?: string; event?: { type: string }; sendId?: string } | undefined;
      if (a.type === 'xstate.raise') {
        if (p?.delay !== undefined && p.id && p.event) this.armTimer(actor.streamId, p.id, p.event, atMs + p.delay);
        continue;
      }
      if (a.type === 'xstate.cancel') {
        if (p?.sendId) this.disarmTimer(actor.streamId, p.sendId);
        continue;
      }
      if (a.type.startsWith('xstate.')) continue;
      const effect = actor.services.effects[a.type];
      if (!effect) {
        this.log(`${actor.streamId}: no effect named ${a.type}`);
        continue;
      }
      try {
        effect(ctx, a.params);
      } catch (err) {
        this.log(`${actor.streamId}: effect ${a.type} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    this.sync(actor);
  }

  private sync(actor: LiveActor): void {
    if (this.stopping) return;
    try {
      actor.services.sync?.(this.contextFor(actor));
    } catch (err) {
      this.log(`${actor.streamId}: sync failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private contextFor(actor: LiveActor): EffectContext {
    const context = actor.snapshot.context as { name?: string };
    return {
      streamId: actor.streamId,
      name: context.name ?? actor.streamId.slice(actor.streamId.indexOf(':') + 1),
      snapshot: actor.snapshot,
      version: actor.version,
      spawn: this.spawnerFor(actor),
      observe: (type, data) => {
        this.observe(actor.streamId, type, data).catch((err: unknown) => this.log(`${actor.streamId}: could not record ${type}: ${err instanceof Error ? err.message : String(err)}`));
      },
      live: this.live,
      clock: this.clock,
    };
  }

  private spawnerFor(actor: LiveActor): Spawner {
    const identity = { homeId: this.homeId, spawnId: actor.eventId, streamId: actor.streamId };
    return (program, args, options) => {
      const spawned = spawnSupervised(identity, program, args, options);
      if (spawned.started) {
        this.spawned.add(identity.spawnId);
        spawned.child.once('exit', () => this.spawned.delete(identity.spawnId));
      }
      return spawned;
    };
  }

  private armTimer(streamId: string, timerId: string, event: { type: string }, dueAt: number): void {
    if (this.stopping) return;
    const key = `${streamId}\u0000${timerId}`;
    const old = this.timers.get(key);
    if (old) clearTimeout(old);
    const delay = Math.max(0, dueAt - this.clock.now());
    const handle = setTimeout(() => {
      this.timers.delete(key);
      this.observe(streamId, 'TIMER_FIRED', { timerId, event }).catch((err: unknown) => this.log(`${streamId}: could not fire ${timerId}: ${String(err)}`));
    }, delay);
    this.timers.set(key, handle);
  }

  private disarmTimer(streamId: string, timerId: string): void {
    const key = `${streamId}\u0000${timerId}`;
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    this.timers.delete(key);
  }

  /**
   * Stops the processes of this FLOW_HOME whose spawn id no run of the log shows, and says
   * which. Returns how many runs the log shows.
   */
  private async stopOrphans(): Promise<number> {
    if (!this.supervises) return 0;
    const runs = [...this.actors.values()].flatMap((a) => a.services.recordedRun?.(a.snapshot) ?? []);
    const owned = new Set(runs.map((r) => r.spawnId).filter((id): id is string => id !== null));
    // A run recorded before spawn ids owns its process group.
    const groups = new Set(runs.filter((r) => r.spawnId === null).map((r) => r.pid));
    const owns = (p: HomeProcess) => (p.spawnId !== null && (owned.has(p.spawnId) || this.spawned.has(p.spawnId))) || groups.has(p.pgid);
    const stopped = await stopUnowned({ homeId: this.homeId, owns, graceMs: this.orphanGraceMs });
    for (const p of stopped) this.log(`stopped pid ${p.pid} (group ${p.pgid}): ${this.describeSpawn(p.spawnId)}, and no run in the log owns it`);
    return runs.length;
  }

  private describeSpawn(spawnId: string | null): string {
    if (!spawnId) return 'a process of this FLOW_HOME with no spawn id';
    const e = this.store.readEvent(spawnId);
    return e ? `spawned for ${e.streamId} after ${e.type} (event ${spawnId})` : `spawn ${spawnId}, which this log does not hold (a log of this FLOW_HOME that was replaced?)`;
  }

  /**
   * Start every actor this host serves from its stored snapshot (services/host/recover.ts),
   * reconcile with the world, re-arm timers, resume.
   */
  private async recover(): Promise<void> {
    const found = recoverActors(this.store, (type) => this.byType.get(type)?.kind);
    for (const a of found.actors) {
      this.actors.set(a.streamId, { streamId: a.streamId, services: this.byType.get(a.streamType)!, snapshot: a.snapshot, version: a.version, eventId: a.eventId });
    }
    const before = new Map([...this.actors.values()].map((a) => [a.streamId, a.services.kind.status(a.snapshot as never)]));
    // Stopped by the last shutdown and not started again (an OpenCode instance): the banner names these too.
    const stoppedWithHost = new Set(
      [...this.actors.values()].filter((a) => {
        const last = this.store.readStream(a.streamId, Math.max(1, a.version)).at(-1);
        return last?.type === 'PROCESS_EXITED' && (last.data as { cause?: string }).cause === 'host-shutdown';
      }).map((a) => a.streamId),
    );
    // The log is the truth: a projection it could not trust was folded again from its stream.
    if (found.refolded.length > 0) {
      const shown = found.refolded.slice(0, 5).map((r) => `${r.streamId} (${r.why})`);
      this.log(`${found.refolded.length} projection(s) not trusted, folded from the log: ${shown.join(', ')}${found.refolded.length > 5 ? ', …' : ''}`);
    }
    // No process the log does not own: first what no recorded run accounts for (a host killed
    // between a spawn and its record); then, once each kind has stopped or adopted its recorded
    // runs, what those runs left behind outside their groups.
    const recorded = await this.stopOrphans();
    // Each actor waits only on its own processes' grace: reconcile them all at once.
    await Promise.all([...this.actors.values()].map((actor) => actor.services.reconcile?.(this.contextFor(actor))));
    if (recorded > 0) await this.stopOrphans();
    for (const t of this.store.timers()) {
      if (this.actors.has(t.streamId)) this.armTimer(t.streamId, t.timerId, t.event, t.dueAt);
    }
    for (const actor of [...this.actors.values()]) {
      const resume = actor.services.resumeEvent?.(this.actors.get(actor.streamId)!.snapshot);
      if (resume) await this.observe(actor.streamId, resume.type, resume.data);
    }
    for (const actor of this.actors.values()) this.sync(actor);
    this.recoveryChanges = [...this.actors.values()].flatMap((a) => {
      const was = before.get(a.streamId)!;
      const now = a.services.kind.status(a.snapshot as never);
      if (was === now && stoppedWithHost.has(a.streamId)) return [{ streamType: a.services.kind.streamType, streamId: a.streamId, before: 'stopped with Flow', after: now }];
      return was === now ? [] : [{ streamType: a.services.kind.streamType, streamId: a.streamId, before: was, after: now }];
    });
  }

  /**
   * What start-up recovery changed, for the banner: each actor whose status differs from the one
   * its log left, and each that the last shutdown stopped and that stays stopped.
   */
  recovered(): readonly RecoveryChange[] {
    return this.recoveryChanges;
  }
}

export interface RecoveryChange {
  streamType: string;
  streamId: string;
  /** The status the log left it in (what it was doing when Flow stopped). */
  before: string;
  /** The status after reconciling with the world and resuming. */
  after: string;
}
