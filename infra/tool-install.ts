import { join } from 'node:path';
import { kindFor } from '../actors/index.js';
import { HostIdSchema } from '../actors/kind.js';
import { InProcessLiveBus } from '../services/bus/in-process.js';
import { ActorHost } from '../services/host/actor-host.js';
import { tryLock } from '../services/host/pid-lock.js';
import { openDatabase } from '../services/store/db.js';
import { SqliteEventStore, logHost } from '../services/store/event-store.js';
import { ActorProjector } from '../services/store/projections.js';
import { directEntry, hostEntry, type ToolInstallEntry } from '../services/tool-install/entry.js';
import { toolInstallServices } from '../services/tool-install/index.js';
import { withToolLock } from '../services/tool-install/lock.js';
import type { ToolPaths } from '../services/tool-install/paths.js';
import { defaultHostId } from './host-id.js';

/**
 * The tool-install machine for one `f install` / `f cli upgrade` / `f cli uninstall`, over
 * $FLOW_HOME/flow.db, under the tool lock (two installs at once stay one after the other, each
 * deciding from what the other left). With no `f up` running, this command takes the log's host
 * lock and runs an ActorHost in-process that serves tool-install alone (it adopts and stops no
 * process: it supervises none); while one runs, its lock is respected and the events go straight
 * into the shared log through the same writer. A log that cannot be opened leaves a warning and
 * one in memory: the machine still decides, from what the files hold.
 */
export async function withToolInstall<T>(paths: ToolPaths, fn: (entry: ToolInstallEntry) => Promise<T>): Promise<T> {
  return withToolLock(paths, async () => {
    const entry = await openEntry(paths);
    try {
      return await fn(entry);
    } finally {
      await entry.close();
    }
  });
}

/**
 * Installs are per host: the host id is part of the stream's name (see actors/tool-install/).
 * It is the host whose log this is: FLOW_HOST_ID if given, else the host id that last ran this
 * FLOW_HOME (f host --id alpha), else this machine's name.
 */
function hostOf(known: string | undefined): string {
  const host = process.env.FLOW_HOST_ID === undefined && known && HostIdSchema.safeParse(known).success ? known : defaultHostId();
  if (!HostIdSchema.safeParse(host).success) throw new Error(`FLOW_HOST_ID is 1-64 letters, digits, "-" or "_", not ${JSON.stringify(host)}`);
  return host;
}

async function openEntry(paths: ToolPaths): Promise<ToolInstallEntry> {
  let store: SqliteEventStore;
  try {
    const db = openDatabase(paths.db);
    let host: string;
    try {
      host = hostOf(logHost(db));
    } catch (err) {
      db.close();
      throw err;
    }
    store = new SqliteEventStore(db, { host, projectors: [new ActorProjector(kindFor)], pollMs: 0 });
  } catch (err) {
    process.stderr.write(`f: warning: not recording install events (${(err as Error).message})\n`);
    let host = 'local';
    try {
      host = hostOf(undefined);
    } catch {
      /* said above */
    }
    const memory = new SqliteEventStore(openDatabase(':memory:'), { host, projectors: [new ActorProjector(kindFor)], pollMs: 0 });
    return directEntry(memory, toolInstallServices(), async () => memory.close());
  }
  const services = toolInstallServices();
  const lock = tryLock(join(paths.home, 'host.lock'), { by: 'f install', startedAt: new Date().toISOString() });
  if (!lock.taken) return directEntry(store, services, async () => store.close());
  try {
    const live = new InProcessLiveBus();
    const host = await ActorHost.start({ store, live, services: [services], supervises: false, log: (line) => process.stderr.write(`f: ${line}\n`) });
    return hostEntry(host, services, async () => {
      await host.stop();
      await live.close();
      store.close();
      lock.release();
    });
  } catch (err) {
    store.close();
    lock.release();
    throw err;
  }
}
