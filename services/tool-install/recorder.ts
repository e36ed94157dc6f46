import type { ToolPaths } from './paths.js';
import { isToolId } from './tool-id.js';

/** The data of one tool-install event (validated against actors/tool-install/ when recorded). */
export type StepData = Record<string, unknown>;

export interface Recorder {
  /** Appends one event to `tool-install:<id>_<host>`; the stream's snapshot is updated in the same transaction. */
  record(id: string, type: string, data: StepData): void;
  close(): void;
}

/**
 * Opens $FLOW_HOME/flow.db directly, as `f up` would: `f install` works whether or not Flow is
 * running, and a running gateway sees the events through the store's cross-process polling.
 * Loaded with dynamic imports so that `f cli <id>` never pays for SQLite or XState.
 */
export async function openRecorder(paths: ToolPaths): Promise<Recorder> {
  const [{ SqliteEventStore, logHost }, { openDatabase }, { ActorProjector }, { kindFor }, { recordEvent, loadActor }, { toolInstallKind, toolInstallStreamId }, { HostIdSchema }, { defaultHostId }] = await Promise.all([
    import('../store/event-store.js'),
    import('../store/db.js'),
    import('../store/projections.js'),
    import('../../actors/index.js'),
    import('../host/writer.js'),
    import('../../actors/tool-install/index.js'),
    import('../../actors/kind.js'),
    import('../../infra/host-id.js'),
  ]);
  // Installs are per host: the host id is part of the stream's name (see actors/tool-install/).
  // It is the host whose log this is: FLOW_HOST_ID if given, else the host id that last ran this
  // FLOW_HOME (f host --id alpha), else this machine's name.
  const db = openDatabase(paths.db);
  const known = logHost(db);
  const host = process.env.FLOW_HOST_ID === undefined && known && HostIdSchema.safeParse(known).success ? known : defaultHostId();
  if (!HostIdSchema.safeParse(host).success) {
    db.close();
    throw new Error(`FLOW_HOST_ID is 1-64 letters, digits, "-" or "_", not ${JSON.stringify(host)}`);
  }
  const store = new SqliteEventStore(db, { host, projectors: [new ActorProjector(kindFor)], pollMs: 0 });
  return {
    record(id, type, data) {
      // An id that is not valid has no stream: its failure is reported to the user only.
      if (!isToolId(id)) return;
      const streamId = toolInstallStreamId(id, host);
      const current = loadActor(store, toolInstallKind as never, streamId);
      recordEvent(store, toolInstallKind as never, streamId, current, { type, data, at: Date.now(), meta: { by: 'f install' } });
    },
    close() {
      store.close();
    },
  };
}

/** For tests and library callers that do not want events. */
export const nullRecorder: Recorder = { record() {}, close() {} };
