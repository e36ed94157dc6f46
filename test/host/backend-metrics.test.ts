import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { backendStreamId } from '../../actors/backend-child/index.js';
import { backendChildServices } from '../../services/backend-child/index.js';
import { InProcessLiveBus } from '../../services/bus/in-process.js';
import { ActorProjector, readActor } from '../../services/store/projections.js';
import { ActorHost } from '../../services/host/actor-host.js';
import { EventStore } from '../../services/store/event-store.js';
import { kindFor } from '../../actors/index.js';
import { liveSubjects } from '../../services/bus/names.js';
import { LiveMetricsTail, type BackendMetrics } from '../../services/backend-child/metrics.js';
import { tempDir } from '../support/tmp.js';
import { CRASHY } from '../support/host.js';
import { until } from '../support/flow-process.js';

const BURNER = join(process.cwd(), 'test/fixtures/burner.mjs');
const MiB = 1024 * 1024;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup() {
  const t = tempDir();
  const store = EventStore.open(join(t.dir, 'flow.db'), { host: 'test', projectors: [new ActorProjector(kindFor)], pollMs: 0 });
  const live = new InProcessLiveBus();
  const backends = backendChildServices({ live, metricsIntervalMs: 200 });
  const host = await ActorHost.start({ store, live, services: [backends], log: () => {} });
  cleanups.push(t.cleanup, () => store.close(), () => host.stop());
  const add = async (name: string, command: string[]) => {
    const res = await host.dispatch({ type: 'backend.create', name, config: { command, cwd: t.dir, env: {}, port: null, watch: [], watchExtensions: ['.js'], stopGraceMs: 2000 }, autostart: true });
    expect(res.ok).toBe(true);
    return backendStreamId(name);
  };
  return { backends, live, add, store };
}

/** Waits until a backend has a sample with a CPU share (two samples of the same run). */
const sampled = (backends: ReturnType<typeof backendChildServices>, id: string) =>
  until(() => {
    const m = backends.metrics(id);
    return m && m.cpuPercent !== null ? m : null;
  }, `a CPU sample of ${id}`);

describe('backend CPU and memory, from /proc', () => {
  it('a backend that spins shows CPU use above an idle one, and each stays within a core per process', async () => {
    const { backends, add } = await setup();
    const burn = await add('burn', [process.execPath, BURNER, '--burn']);
    const idle = await add('idle', [process.execPath, CRASHY]);
    // Both start with Node's own start-up work; once that is over, the spinner stays ahead.
    const [b, i] = await until(async () => {
      const pair = [await sampled(backends, burn), await sampled(backends, idle)] as const;
      return pair[0].cpuPercent! > 10 && pair[0].cpuPercent! > pair[1].cpuPercent! ? pair : null;
    }, 'the burner ahead of the idle backend');
    for (const m of [b, i]) expect(m.cpuPercent!).toBeLessThanOrEqual(100 * m.processes * 1.5);
    expect(b.processes).toBe(1);
  });

  it('memory is the resident memory of the whole process group: a child that allocates adds to it', async () => {
    const { backends, add, live } = await setup();
    const seen = new Map<string, BackendMetrics>();
    live.subscribe(liveSubjects.allMetrics('backend-child'), (m) => seen.set(m.subject, m.data as BackendMetrics));
    const tail = new LiveMetricsTail(live);
    cleanups.push(() => tail.close());
    const alone = await add('alone', [process.execPath, BURNER, '--mib', '64']);
    const family = await add('family', [process.execPath, BURNER, '--mib', '64', '--child', '96']);
    // Allocation takes a moment after start, and the family's child starts later and allocates
    // last: compare samples of the same moment, once the child's 96 MiB are in (CI once sampled
    // the family mid-way). Were the child not counted, the family would stay near alone and this
    // would time out.
    const [a, f] = await until(() => {
      const a = backends.metrics(alone);
      const f = backends.metrics(family);
      return a && f && a.memoryBytes > 64 * MiB && f.processes === 2 && f.memoryBytes - a.memoryBytes > 64 * MiB ? ([a, f] as const) : null;
    }, 'the family holding its child\'s 96 MiB on top of what alone holds');
    expect(a.processes).toBe(1);
    expect(f.memoryBytes).toBeLessThan(2 * (64 + 96) * MiB + 2 * 200 * MiB);
    // The same figures go out on the live bus, for a gateway without this host's /proc.
    expect(tail.get(family)?.processes).toBe(2);
    expect(tail.get(family)?.memoryBytes).toBeGreaterThan(64 * MiB);
  });

  it('no figures for a backend that is not running', async () => {
    const { backends, add, store } = await setup();
    const id = await add('quick', [process.execPath, CRASHY, '--exit', '0']);
    await until(() => readActor(store.db, id)?.status === 'exited', 'the clean exit');
    expect(backends.metrics(id)).toBeNull();
  });
});
