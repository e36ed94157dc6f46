import { z } from 'zod';
import { liveSubjects } from '../bus/names.js';
import type { LiveBus } from '../bus/types.js';
import { CLOCK_TICKS_PER_SECOND, groupsUsage, type GroupUsage } from '../host/proc.js';

/**
 * What a running backend uses, as `pm2 ls` shows it: CPU and resident memory of its whole
 * process group. Figures, not events: sampled, kept in memory, never logged.
 */
export const BackendMetricsSchema = z.object({
  /** The group leader sampled: a figure of an earlier run is not this run's. */
  pid: z.number().int().positive(),
  /** Share of one core over the last sampling interval (100 = one core busy); null until two samples. */
  cpuPercent: z.number().nonnegative().nullable(),
  /** Resident memory of every process of the group, in bytes. */
  memoryBytes: z.number().int().nonnegative(),
  /** Living processes in the group (the backend and what it started). */
  processes: z.number().int().positive(),
  sampledAt: z.string(),
});
export type BackendMetrics = z.infer<typeof BackendMetricsSchema>;

interface Sample {
  pid: number;
  usage: GroupUsage;
  atMs: number;
  cpuPercent: number | null;
}

export interface MetricsSamplerOptions {
  /** Between samples (default 2 s): CPU % is the share of this interval the group was on a CPU. */
  intervalMs?: number;
  /** Each new figure, e.g. for the live bus (the gateway of distributed mode has no /proc of the host). */
  onSample?: (key: string, metrics: BackendMetrics) => void;
}

/**
 * Samples the process groups `groups()` names every interval and keeps the last sample of
 * each, so a CPU share is the delta of utime+stime between two samples over the time between
 * them. A group that changes its pid (a restart) starts over.
 */
export class MetricsSampler {
  private readonly last = new Map<string, Sample>();
  private timer: NodeJS.Timeout | null = null;
  private readonly intervalMs: number;

  constructor(
    private readonly groups: () => ReadonlyMap<string, number>,
    private readonly opts: MetricsSamplerOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 2000;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Takes one sample of every group now (the timer calls it; a test may too). */
  sample(nowMs = Date.now()): void {
    const wanted = this.groups();
    for (const key of this.last.keys()) if (!wanted.has(key)) this.last.delete(key);
    const usages = groupsUsage(new Set(wanted.values()));
    for (const [key, pid] of wanted) {
      const usage = usages.get(pid);
      if (!usage) {
        this.last.delete(key);
        continue;
      }
      const prev = this.last.get(key);
      let cpuPercent: number | null = null;
      if (prev && prev.pid === pid && nowMs > prev.atMs) {
        // A member that ended takes its ticks with it: the sum may drop; that is not negative use.
        const ticks = Math.max(0, usage.cpuTicks - prev.usage.cpuTicks);
        cpuPercent = Math.round(((ticks / CLOCK_TICKS_PER_SECOND) * 1000 * 1000) / (nowMs - prev.atMs)) / 10;
      }
      const sample = { pid, usage, atMs: nowMs, cpuPercent };
      this.last.set(key, sample);
      this.opts.onSample?.(key, toMetrics(sample));
    }
  }

  get(key: string): BackendMetrics | null {
    const s = this.last.get(key);
    return s ? toMetrics(s) : null;
  }
}

function toMetrics(s: Sample): BackendMetrics {
  return { pid: s.pid, cpuPercent: s.cpuPercent, memoryBytes: s.usage.rssBytes, processes: s.usage.processes, sampledAt: new Date(s.atMs).toISOString() };
}

/**
 * The last sample of each backend as seen on the live bus: a gateway that does not run the
 * processes (distributed mode) has no /proc of their host, so it shows what the host published.
 */
export class LiveMetricsTail {
  private readonly last = new Map<string, BackendMetrics>();
  private readonly unsubscribe: () => void;

  constructor(live: LiveBus) {
    this.unsubscribe = live.subscribe(liveSubjects.allMetrics('backend-child'), (m) => {
      const name = liveSubjects.parse(m.subject)?.tokens[0];
      const parsed = BackendMetricsSchema.safeParse(m.data);
      if (name && parsed.success) this.last.set(`backend-child:${name}`, parsed.data);
    });
  }

  get(streamId: string): BackendMetrics | null {
    return this.last.get(streamId) ?? null;
  }

  close(): void {
    this.unsubscribe();
  }
}
