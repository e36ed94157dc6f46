import { instanceStreamId, opencodeInstanceKind, type InstanceContext, type SessionSummary } from '../../../actors/opencode-instance/index.js';
import { OpencodeHttpError } from '../../../services/opencode/client.js';
import { InstanceNotReadyError, type OpencodeRuntime } from '../../../services/opencode/runtime.js';
import { instanceView, sessionView, type InstanceView, type SessionView } from '../../../services/opencode/views.js';
import type { ActorListing, ReadModel } from '../../../services/store/read-model.js';
import { ApiError } from '../../errors.js';
import type { RouteResponses } from '../../openapi.js';

/** What the instance, session and attention routes share: reads of the read model and calls to OpenCode. */
export interface InstanceRecord {
  row: ActorListing;
  context: InstanceContext;
}

/** Lookups shared by the instance, session and attention routes, all from the read model. */
export class OpencodeLookup {
  constructor(private readonly readModel: ReadModel) {}

  instances(): InstanceRecord[] {
    return this.readModel
      .listActors(opencodeInstanceKind.streamType)
      .filter((r) => r.status !== 'removed' && r.status !== 'new')
      .map((row) => ({ row, context: row.snapshot.context as InstanceContext }));
  }

  instance(id: string): InstanceRecord {
    const row = this.readModel.getActor(instanceStreamId(id));
    if (!row || row.status === 'removed' || row.status === 'new') throw ApiError.notFound(`no opencode instance ${id}`);
    return { row, context: row.snapshot.context as InstanceContext };
  }

  session(sessionId: string): { instance: InstanceRecord; session: SessionSummary } {
    for (const instance of this.instances()) {
      const session = instance.context.sessions[sessionId];
      if (session) return { instance, session };
    }
    throw ApiError.notFound(`no session ${sessionId}`);
  }
}

export function instanceViewOf(row: ActorListing): InstanceView {
  return instanceView(row.status, row.snapshot.context as InstanceContext, row.updatedAt);
}

export function viewOf(r: InstanceRecord): InstanceView {
  return instanceView(r.row.status, r.context, r.row.updatedAt);
}

export function sessionsOf(r: InstanceRecord): SessionView[] {
  return Object.values(r.context.sessions)
    .sort((a, b) => b.updatedAt - a.updatedAt)
    .map((s) => sessionView(r.context.id, s));
}

/**
 * A read that needs the instance's OpenCode server (a turn's diff, its models) is served only by
 * a gateway in the process of the host that runs it: the server listens on that host's loopback
 * and takes a password only that host holds. Not running is a 409 that says what it is; running
 * on another host a 503 that says where to ask.
 */
export function liveHere(r: InstanceRecord, runtime: OpencodeRuntime | undefined): OpencodeRuntime {
  const status = r.row.status;
  if (status === 'running' && runtime?.isLive(r.context.id)) return runtime;
  if (status === 'running') {
    throw new ApiError(
      503,
      'unavailable',
      `the instance ${r.context.id} runs on host ${r.row.host}, whose OpenCode server only that host can call: ask the gateway that runs with it ("f up --nats ... --redis ..." there)`,
    );
  }
  const hint = status === 'stopped' || status === 'error' ? ` (start it with "f instance start ${r.context.id}")` : status === 'starting' ? ' (try again in a moment)' : '';
  throw ApiError.conflict(`the instance ${r.context.id} is ${status}${hint}`);
}

/** What a read from an instance's OpenCode server can answer besides its success. */
export const OPENCODE_READ_RESPONSES: RouteResponses = {
  409: 'the instance is not running',
  502: 'its OpenCode server failed or did not answer',
  503: 'the instance runs on a host this gateway does not run with',
};

/** opencode's answers, as Flow's errors: its 404/400/409 keep their meaning; the rest is a bad gateway. */
export async function callOpencode<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof InstanceNotReadyError) throw ApiError.conflict(err.message);
    if (err instanceof OpencodeHttpError) {
      if (err.status === 404) throw ApiError.notFound(`opencode: ${err.message}`);
      if (err.status === 400) throw ApiError.invalid(`opencode: ${err.message}`);
      if (err.status === 409) throw ApiError.conflict(`opencode: ${err.message}`);
      throw ApiError.badGateway(`opencode: ${err.message}`);
    }
    throw err;
  }
}
