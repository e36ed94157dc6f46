import { Job, Queue, QueueEvents, UnrecoverableError, Worker, type JobsOptions } from 'bullmq';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { CommandSchema, type Command } from '../../actors/index.js';
import { CommandMetaSchema, CommandResultSchema, commandError, type CommandResult } from '../host/commands.js';
import { COMMAND_QUEUE, hostQueue, type FlowNames } from '../bus/names.js';
import { invalidCommand, type CommandHandler } from './in-process.js';
import { redisOptions, within } from './redis.js';
import type { CommandQueue, CommandStatus, SubmitOptions } from './types.js';
import type { ConnectedHost } from '../store/replica.js';

/** A command as it travels through Redis. */
export const CommandJobSchema = z.object({
  command: CommandSchema,
  meta: CommandMetaSchema.omit({ causationId: true }),
});
export type CommandJob = z.infer<typeof CommandJobSchema>;

/**
 * Where a command goes: a queue, and whether running it again after a failure is safe; or, for
 * a new actor with no host named, `anyHost`: the queue picks one of the connected hosts.
 */
export type Placement = { queue: string; retry: boolean } | { anyHost: true } | CommandResult;

export interface BullQueueOptions {
  redisUrl: string;
  names: FlowNames;
  /** Chooses the queue: the owning host's for an existing actor, the shared one for a new one. */
  place(command: Command, host: string | undefined): Placement;
  /** Among the connected hosts, the one a new actor goes to (default: the first by name). */
  chooseHost?(hosts: readonly string[]): string;
  /** Told what Redis says is connected, each time it is read (the gateway's replica learns each host's log from it). */
  onConnected?(hosts: readonly ConnectedHost[]): void;
  /** Reads the connected hosts this often even when no command asks (ms; default 0: only when needed). */
  watchHostsMs?: number;
  /** Runs on an ok result before the API sees it (the gateway waits for its read model). */
  settle?(result: CommandResult): Promise<CommandResult>;
  /** Queues whose jobs `status()` looks in. */
  knownQueues?(): string[];
  /** How long the API waits for a job's result (default 15 s). */
  resultTimeoutMs?: number;
  /** How long any single Redis call may take before the API says Redis is unavailable (default 3 s). */
  redisTimeoutMs?: number;
  log?: (line: string) => void;
}

const KEEP: JobsOptions = { removeOnComplete: { age: 24 * 3600, count: 10_000 }, removeOnFail: { age: 7 * 24 * 3600 } };

/**
 * The gateway's side of the distributed command path: each command becomes a zod-checked job;
 * its result is what the API returns. Redis down means a 503 within seconds (the producer's
 * connection has no offline queue, and every call has a deadline), never a hung request.
 */
export class BullCommandQueue implements CommandQueue {
  private readonly queues = new Map<string, Queue>();
  private readonly events = new Map<string, QueueEvents>();
  private readonly liveWorkers = new Map<string, number>();
  private readonly log: (line: string) => void;
  private readonly resultTimeoutMs: number;
  private readonly redisTimeoutMs: number;
  private lastError = 0;
  private closed = false;
  private hostsSeen: { at: number; hosts: ConnectedHost[] } | null = null;
  private watchTimer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: BullQueueOptions) {
    this.log = opts.log ?? ((line) => process.stderr.write(`[flow queue] ${line}\n`));
    this.resultTimeoutMs = opts.resultTimeoutMs ?? 15_000;
    this.redisTimeoutMs = opts.redisTimeoutMs ?? 3_000;
  }

  /** Connects the shared queue; a Redis that is down now is reported, not fatal (calls get 503 until it is back). */
  async start(): Promise<void> {
    try {
      await within(this.queueEvents(COMMAND_QUEUE).waitUntilReady(), this.redisTimeoutMs, 'timed out');
    } catch (err) {
      this.log(`Redis at ${this.opts.redisUrl} is not answering (${errText(err)}); commands will get 503 until it does`);
    }
    const every = this.opts.watchHostsMs ?? 0;
    if (every > 0 && !this.closed) {
      // A host that restarts with a new log shows itself here before it writes any event.
      const look = () => void this.connected().catch(() => {});
      look();
      this.watchTimer = setInterval(look, every);
      this.watchTimer.unref();
    }
  }

  async submit(command: Command, opts: SubmitOptions = {}): Promise<CommandResult> {
    if (this.closed) return commandError('unavailable', 'the gateway is shutting down; try again when it is back');
    const parsed = CommandSchema.safeParse(command);
    if (!parsed.success) return invalidCommand(parsed.error.issues);
    const { host, ...meta } = opts;
    let placement = this.opts.place(parsed.data, host);
    if ('ok' in placement) return placement;
    if ('anyHost' in placement) {
      let hosts: string[] | null;
      try {
        const connected = await this.connected();
        hosts = connected && [...new Set(connected.map((h) => h.host))];
      } catch (err) {
        return this.redisDown(err);
      }
      if (hosts && hosts.length === 0) return commandError('unavailable', 'no host is connected; start one with "f host" and try again');
      // A host of our choosing: its own queue, where a retry is safe. Only a Redis that cannot
      // list its clients leaves the choice to whichever host takes the job first.
      if (hosts) {
        const queue = hostQueue((this.opts.chooseHost ?? ((h) => [...h].sort()[0]!))(hosts));
        // Seen connected a moment ago: workersOn need not ask Redis again.
        this.liveWorkers.set(queue, this.hostsSeen!.at);
        placement = { queue, retry: true };
      } else placement = { queue: COMMAND_QUEUE, retry: false };
    }
    const name = placement.queue;
    const data: CommandJob = { command: parsed.data, meta };
    const jobId = uuidv7();
    try {
      if ((await this.workersOn(name)) === 0) {
        const who = name === COMMAND_QUEUE ? 'no host is connected' : `host ${name.slice(COMMAND_QUEUE.length + 1)} is not connected`;
        return commandError('unavailable', `${who} (no worker takes jobs from ${name}); start one with "f host${name === COMMAND_QUEUE ? '' : ` --id ${name.slice(COMMAND_QUEUE.length + 1)}`}" and try again`);
      }
      // Listening before the job exists, so its completion cannot slip past.
      await within(this.queueEvents(name).waitUntilReady(), this.redisTimeoutMs, `Redis did not answer within ${this.redisTimeoutMs} ms`);
    } catch (err) {
      return this.redisDown(err);
    }
    try {
      await within(
        this.queue(name).add(parsed.data.type, data, {
          jobId,
          ...KEEP,
          ...(placement.retry ? { attempts: 3, backoff: { type: 'exponential', delay: 500 } } : { attempts: 1 }),
        }),
        this.redisTimeoutMs,
        `Redis did not answer within ${this.redisTimeoutMs} ms`,
      );
    } catch (err) {
      // Refused before it was sent: certainly not queued. Sent but unanswered: Redis may have
      // it (the client resends it on reconnect, and the job id keeps that from adding it twice).
      if (/isn't writeable|enableOfflineQueue/i.test(errText(err))) return this.redisDown(err);
      this.noteError(err);
      return commandError('timeout', `Redis stopped answering while command ${jobId} was being queued (${errText(err)}); it may still run: GET /api/commands/${jobId} tells what became of it`);
    }
    const outcome = await this.outcome(name, jobId);
    if (outcome.state === 'timeout') {
      return commandError('timeout', `command ${jobId} was accepted but had no result within ${this.resultTimeoutMs / 1000} s; GET /api/commands/${jobId} tells what became of it`);
    }
    if (outcome.state === 'failed') return commandError('internal', `command ${jobId} failed on its host: ${outcome.reason}`);
    const value = outcome.value;
    const result = CommandResultSchema.safeParse(value);
    if (!result.success) return commandError('internal', `command ${jobId} returned something that is not a command result: ${JSON.stringify(value)?.slice(0, 300)}`);
    return result.data.ok && this.opts.settle ? this.opts.settle(result.data) : result.data;
  }

  /**
   * Waits for a job to finish: QueueEvents says so at once; a look at the job every second
   * covers an event missed while Redis was away. Nothing here throws: Redis errors only mean
   * waiting longer, up to the deadline.
   */
  private outcome(name: string, id: string): Promise<{ state: 'completed'; value: unknown } | { state: 'failed'; reason: string } | { state: 'timeout' }> {
    const events = this.queueEvents(name);
    return new Promise((resolve) => {
      let settled = false;
      const finish = (o: { state: 'completed'; value: unknown } | { state: 'failed'; reason: string } | { state: 'timeout' }) => {
        if (settled) return;
        settled = true;
        events.off('completed', onCompleted);
        events.off('failed', onFailed);
        clearInterval(poll);
        clearTimeout(deadline);
        resolve(o);
      };
      const look = () => {
        const queue = this.queue(name);
        // State first, then the job: read the other way round, a job that finishes in between
        // would be seen completed with the return value it did not have yet.
        queue
          .getJobState(id)
          .then(async (state) => {
            if (state !== 'completed' && state !== 'failed') return;
            const job = await Job.fromId(queue, id);
            if (!job) return;
            if (state === 'completed') finish({ state: 'completed', value: job.returnvalue });
            else finish({ state: 'failed', reason: job.failedReason });
          })
          .catch(() => {});
      };
      const onCompleted = (e: { jobId: string; returnvalue: unknown }) => {
        if (e.jobId === id) finish({ state: 'completed', value: typeof e.returnvalue === 'string' ? parseJson(e.returnvalue) : e.returnvalue });
      };
      // A failed attempt that will be retried also shows up here: ask the job whether it is final.
      const onFailed = (e: { jobId: string }) => {
        if (e.jobId === id) look();
      };
      events.on('completed', onCompleted);
      events.on('failed', onFailed);
      const poll = setInterval(look, 1000);
      const deadline = setTimeout(() => finish({ state: 'timeout' }), this.resultTimeoutMs);
      look();
    });
  }

  async status(id: string): Promise<CommandStatus | undefined> {
    const names = new Set([COMMAND_QUEUE, ...(this.opts.knownQueues?.() ?? [])]);
    for (const name of names) {
      const state = await within(this.queue(name).getJobState(id), this.redisTimeoutMs, `Redis did not answer within ${this.redisTimeoutMs} ms`);
      if (state === 'unknown') continue;
      const job = await within(Job.fromId(this.queue(name), id), this.redisTimeoutMs, `Redis did not answer within ${this.redisTimeoutMs} ms`);
      if (!job) continue;
      const known = ['waiting', 'delayed', 'active', 'completed', 'failed'] as const;
      const parsed = CommandResultSchema.safeParse(job.returnvalue);
      return {
        id,
        queue: name,
        state: (known as readonly string[]).includes(state) ? (state as CommandStatus['state']) : state === 'prioritized' || state === 'waiting-children' ? 'waiting' : 'unknown',
        attempts: job.attemptsMade,
        ...(parsed.success ? { result: parsed.data } : {}),
        ...(job.failedReason ? { failedReason: job.failedReason } : {}),
      };
    }
    return undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.watchTimer) clearInterval(this.watchTimer);
    await Promise.all([...this.events.values()].map((e) => e.close().catch(() => {})));
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => {})));
  }

  private redisDown(err: unknown): CommandResult {
    const now = Date.now();
    if (now - this.lastError > 5000) this.log(`Redis at ${this.opts.redisUrl}: ${errText(err)}`);
    this.lastError = now;
    return commandError('unavailable', `the command queue is unavailable (Redis at ${this.opts.redisUrl}: ${errText(err)}); nothing was queued, try again when Redis is back`);
  }

  /**
   * Hosts with a worker on the shared queue right now, with the epoch of the log each runs: each
   * host names its workers `<host id>@<epoch>` (see CommandWorkers), and Redis lists its clients
   * by name. Null when this Redis cannot list them (CLIENT LIST off); throws when Redis is down.
   */
  async connected(): Promise<ConnectedHost[] | null> {
    if (this.hostsSeen && Date.now() - this.hostsSeen.at < 1000) return this.hostsSeen.hosts;
    let workers: { rawname?: string }[];
    try {
      workers = (await within(this.queue(COMMAND_QUEUE).getWorkers(), this.redisTimeoutMs, `Redis did not answer within ${this.redisTimeoutMs} ms`)) as { rawname?: string }[];
    } catch (err) {
      if (/unknown command|CLIENT/i.test(errText(err))) return null;
      throw err;
    }
    const seen = new Map<string, ConnectedHost>();
    for (const w of workers) {
      const name = /:w:(.+)$/.exec(w.rawname ?? '')?.[1];
      if (name) seen.set(name, parseWorkerName(name));
    }
    const hosts = [...seen.values()];
    this.hostsSeen = { at: Date.now(), hosts };
    try {
      this.opts.onConnected?.(hosts);
    } catch (err) {
      // What the replica makes of it must not fail the command that asked.
      this.log(`could not note the connected hosts: ${errText(err)}`);
    }
    return hosts;
  }

  // A worker that registered in the last second counts: CLIENT LIST is cheap but not free.
  private async workersOn(name: string): Promise<number> {
    const seen = this.liveWorkers.get(name);
    if (seen !== undefined && Date.now() - seen < 1000) return 1;
    const n = await within(this.queue(name).getWorkersCount(), this.redisTimeoutMs, `Redis did not answer within ${this.redisTimeoutMs} ms`);
    if (n > 0) this.liveWorkers.set(name, Date.now());
    else this.liveWorkers.delete(name);
    return n;
  }

  private queue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      // No offline queue: with Redis down, a call fails at once instead of waiting for it.
      q = new Queue(name, { connection: { ...redisOptions(this.opts.redisUrl), enableOfflineQueue: false }, prefix: this.opts.names.bullPrefix });
      q.on('error', (err) => this.noteError(err));
      this.queues.set(name, q);
    }
    return q;
  }

  private queueEvents(name: string): QueueEvents {
    let e = this.events.get(name);
    if (!e) {
      e = new QueueEvents(name, { connection: { ...redisOptions(this.opts.redisUrl), maxRetriesPerRequest: null }, prefix: this.opts.names.bullPrefix });
      e.on('error', (err) => this.noteError(err));
      // One pair of listeners per command waiting for its result.
      e.setMaxListeners(0);
      this.events.set(name, e);
    }
    return e;
  }

  private noteError(err: unknown): void {
    const now = Date.now();
    if (now - this.lastError > 5000) this.log(`Redis at ${this.opts.redisUrl}: ${errText(err)}`);
    this.lastError = now;
  }
}

export interface WorkerOptions {
  redisUrl: string;
  names: FlowNames;
  hostId: string;
  /** The epoch of the host's log: in the workers' names, so a gateway sees which log a connected host runs. */
  epoch?: string;
  handler: CommandHandler;
  /** How long a job stays locked to a worker that stopped answering (default 30 s, BullMQ's). */
  lockMs?: number;
  log?: (line: string) => void;
}

/**
 * A host's side: workers on the shared queue and on its own. A job whose worker died mid-way
 * (its lock expired) is run again only where that is safe: on the host's own queue, where the
 * host finds the job's id in its log if it had already applied it. On the shared queue it could
 * land on another host and create the actor twice, so it fails visibly instead.
 */
export class CommandWorkers {
  private readonly workers: Worker[] = [];
  private readonly log: (line: string) => void;
  private lastError = 0;

  constructor(private readonly opts: WorkerOptions) {
    this.log = opts.log ?? ((line) => process.stderr.write(`[flow worker] ${line}\n`));
  }

  async start(): Promise<void> {
    const lockDuration = this.opts.lockMs ?? 30_000;
    const common = {
      connection: { ...redisOptions(this.opts.redisUrl), maxRetriesPerRequest: null },
      prefix: this.opts.names.bullPrefix,
      // The gateway learns which hosts are connected, and with which log, from these names (Redis CLIENT LIST).
      name: this.opts.epoch ? `${this.opts.hostId}@${this.opts.epoch}` : this.opts.hostId,
      concurrency: 4,
      lockDuration,
      stalledInterval: Math.max(1000, Math.floor(lockDuration / 2)),
    };
    const shared = new Worker(COMMAND_QUEUE, (job: Job) => this.run(job), { ...common, maxStalledCount: 0 });
    const own = new Worker(hostQueue(this.opts.hostId), (job: Job) => this.run(job), { ...common, maxStalledCount: 1 });
    for (const w of [shared, own]) {
      w.on('error', (err) => {
        const now = Date.now();
        if (now - this.lastError > 5000) this.log(`Redis at ${this.opts.redisUrl}: ${errText(err)}`);
        this.lastError = now;
      });
      w.on('failed', (job, err) => {
        if (job) this.log(`command ${job.id} (${job.name}) failed: ${err.message}`);
      });
      this.workers.push(w);
    }
    await Promise.all(this.workers.map((w) => within(w.waitUntilReady(), 10_000, `Redis at ${this.opts.redisUrl} did not answer`)));
  }

  /** Lets running jobs finish, takes no new ones. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
  }

  private async run(job: Job): Promise<CommandResult> {
    const parsed = CommandJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`not a Flow command: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const result = await this.opts.handler.dispatch(parsed.data.command, { ...parsed.data.meta, causationId: String(job.id) });
    // A host that is stopping takes the job back to the queue, to be run when it is back.
    if (!result.ok && result.error.code === 'unavailable') throw new Error(result.error.message);
    return result;
  }
}

/**
 * `<host>@<epoch>`, or a bare `<host>` from a host that does not say its epoch (host ids have no
 * "@"). Anyone who can reach Redis can name a client: an epoch that is not an id is ignored.
 */
function parseWorkerName(name: string): ConnectedHost {
  const at = name.lastIndexOf('@');
  if (at <= 0) return { host: name, epoch: null };
  const epoch = name.slice(at + 1);
  return { host: name.slice(0, at), epoch: /^[A-Za-z0-9-]{1,100}$/.test(epoch) ? epoch : null };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
