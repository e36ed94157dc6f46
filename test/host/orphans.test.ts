import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { processesOfHome } from '../../services/host/orphans.js';
import { groupMembers, isAlive, procInfo, signalGroup } from '../../services/host/proc.js';
import { homeIdOf, spawnSupervised, type SupervisedChild } from '../../services/host/supervised-spawn.js';
import { startHost, waitForEvents } from '../support/host.js';
import { until } from '../support/flow-process.js';
import { tempDir } from '../support/tmp.js';

const cleanups: (() => Promise<void> | void)[] = [];
const groups: number[] = [];
afterEach(async () => {
  for (const g of groups.splice(0)) signalGroup(g, 'SIGKILL');
  while (cleanups.length) await cleanups.pop()!();
});

function home(): string {
  const t = tempDir('flow-orphans-');
  cleanups.push(t.cleanup);
  return t.dir;
}

/** A process started the way the host starts its children, for `dir`'s FLOW_HOME. */
function spawnFor(dir: string, spawnId: string, script: string): SupervisedChild & { pid: number } {
  const s = spawnSupervised({ homeId: homeIdOf(dir), spawnId, streamId: 'test:orphan' }, 'sh', ['-c', script], { env: process.env, stdio: 'ignore' });
  if (!s.started) throw new Error('spawn failed');
  groups.push(s.started.pid);
  return { ...s, pid: s.started.pid };
}

describe('the /proc scan for the processes of one FLOW_HOME', () => {
  it("finds a child carrying this home's marker, with its spawn id, and its grandchildren; not a child of another home", async () => {
    const a = home();
    const b = home();
    const mine = spawnFor(a, 'spawn-a', 'sleep 60 & wait');
    const theirs = spawnFor(b, 'spawn-b', 'exec sleep 60');
    await until(() => groupMembers(mine.pid).length === 2, 'the grandchild to start');
    await until(() => processesOfHome(homeIdOf(b)).length > 0, 'the other child to exec');

    const found = processesOfHome(homeIdOf(a));
    expect(found.map((p) => p.pid).sort()).toEqual(groupMembers(mine.pid).sort());
    expect(found.every((p) => p.spawnId === 'spawn-a' && p.pgid === mine.pid)).toBe(true);
    expect(found.find((p) => p.pid === mine.pid)?.startTicks).toBe(mine.started!.startTicks);
    expect(processesOfHome(homeIdOf(b)).map((p) => p.pid)).toEqual([theirs.pid]);
  });

  it('names a home by its real path, and a dead child is no longer found', async () => {
    const a = home();
    const link = join(home(), 'link');
    symlinkSync(a, link);
    expect(homeIdOf(link)).toBe(homeIdOf(a));
    expect(homeIdOf(a)).not.toBe(homeIdOf(home()));

    const child = spawnFor(a, 'short', 'exec sleep 60');
    // Until the child has exec'd, /proc shows the environment it was forked with.
    await until(() => processesOfHome(homeIdOf(a)).length > 0, 'the child to exec');
    expect(processesOfHome(homeIdOf(a)).map((p) => p.pid)).toEqual([child.pid]);
    signalGroup(child.pid, 'SIGKILL');
    // Unreaped, it lingers as a zombie: not a living process of the home.
    await until(() => procInfo(child.pid)?.state !== 'S' && procInfo(child.pid)?.state !== 'R', 'the child to die');
    expect(processesOfHome(homeIdOf(a))).toEqual([]);
  });

  it('a spawn wins over a marker the caller passed in its env', async () => {
    const a = home();
    const s = spawnSupervised({ homeId: homeIdOf(a), spawnId: 'real', streamId: 'test:x' }, 'sleep', ['60'], {
      env: { ...process.env, FLOW_HOME_ID: 'forged', FLOW_SPAWN_ID: 'forged' },
      stdio: 'ignore',
    });
    groups.push(s.started!.pid);
    await until(() => processesOfHome(homeIdOf(a)).length > 0, 'the child to exec');
    expect(processesOfHome('forged')).toEqual([]);
    expect(processesOfHome(homeIdOf(a))).toMatchObject([{ pid: s.started!.pid, spawnId: 'real' }]);
  });
});

describe('a host starting over a FLOW_HOME', () => {
  it('stops every process of that home that no run in its log owns, whole groups (a member that scrubbed its environment too), and nothing of another home', async () => {
    const a = home();
    const b = home();
    // A host killed between spawning and recording left these: a leader, a grandchild that
    // kept the marker, and one that started with an empty environment.
    const orphan = spawnFor(a, 'never-recorded', 'sleep 60 & env -i sleep 61 & wait');
    const other = spawnFor(b, 'elsewhere', 'exec sleep 60');
    await until(() => groupMembers(orphan.pid).length === 3, 'the grandchildren to start');
    const members = groupMembers(orphan.pid);

    const h = await startHost(a);
    cleanups.push(() => h.close());
    for (const pid of members) expect(isAlive(pid), `pid ${pid}`).toBe(false);
    expect(isAlive(other.pid)).toBe(true);
    expect(h.lines.join('\n')).toMatch(new RegExp(`stopped pid ${orphan.pid} \\(group ${orphan.pid}\\): spawn never-recorded, which this log does not hold`));
  });

  it("leaves a running host's own children alone, and gives each a spawn id that its start event records", async () => {
    const a = home();
    const h = await startHost(a);
    cleanups.push(() => h.close());
    const dispatched = await h.host.dispatch({ type: 'backend.create', name: 'web', config: { command: ['sleep', '60'], cwd: a, env: {}, port: null, watch: [], watchExtensions: ['.js'], stopGraceMs: 1000 }, autostart: true });
    expect(dispatched.ok).toBe(true);
    const events = await waitForEvents(h.store, 'backend-child:web', (ev) => ev.some((e) => e.type === 'PROCESS_STARTED'));
    const started = events.find((e) => e.type === 'PROCESS_STARTED')!;
    const created = events.find((e) => e.type === 'CREATED')!;
    // The spawn id is the id of the stored event that asked for the spawn.
    expect(started.data).toMatchObject({ spawnId: created.id });
    expect(processesOfHome(homeIdOf(a))).toMatchObject([{ pid: started.data.pid, spawnId: created.id }]);
  });
});
