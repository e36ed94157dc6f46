import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createParser } from 'eventsource-parser';
import { isAlive, procInfo, signalGroup } from '../../services/host/proc.js';
import type { StubModel } from '../fixtures/stub-model-server.js';
import { json, until, type FlowProcess } from '../support/flow-process.js';
import { killLeftoversOfHome } from '../support/proc-scan.js';
import { tempDir } from '../support/tmp.js';

/** Shared by the opencode end-to-end specs: projects, a session feed client, process hygiene. */
export interface InstanceView {
  id: string;
  status: string;
  directory: string;
  pid: number | null;
  port: number | null;
  lastError: string | null;
  lastExit: { pid: number | null; code: number | null; signal: string | null; cause: string; tail: string[] } | null;
  health: 'healthy' | 'unhealthy' | null;
  healthCheck: { failures: number; lastCheckAt: string | null; lastOkAt: string | null; lastError: string | null };
  restarts: number;
  restartReason: string | null;
}

export interface SessionView {
  id: string;
  instanceId: string;
  status: string;
  state: string;
  needsAttention: boolean;
  lastError: { name: string; message: string } | null;
  permissions: { id: string; permission: string; detail: string | null }[];
  messages: number;
}

export interface FeedMessage {
  type: string;
  sessionId: string;
  delta?: string;
  messageId?: string;
  message?: { id: string; role: string; text: string; error: { name: string } | null };
  session?: SessionView;
}

/** A working directory whose opencode.json points at the stub model. */
export function project(stub: StubModel, cleanups: (() => void)[], prefix = 'flow-oc-proj-'): string {
  const t = tempDir(prefix);
  cleanups.push(t.cleanup);
  writeFileSync(join(t.dir, 'opencode.json'), JSON.stringify(stub.opencodeConfig(), null, 2));
  return t.dir;
}

/** Every opencode process a spec saw, so none outlives it even when an assertion fails. */
export class ProcessWatch {
  private readonly seen = new Map<number, number>();
  note(pid: number | null | undefined): void {
    if (!pid || this.seen.has(pid)) return;
    const info = procInfo(pid);
    if (info) this.seen.set(pid, info.startTicks);
  }
  alive(): number[] {
    return [...this.seen].filter(([pid, ticks]) => isAlive(pid, ticks)).map(([pid]) => pid);
  }
  killAll(): void {
    for (const pid of this.alive()) signalGroup(pid, 'SIGKILL');
  }
}

export async function instance(f: FlowProcess, id: string): Promise<InstanceView> {
  return (await json<InstanceView>(`${f.url}/api/instances/${id}`)).body;
}

export async function waitInstance(f: FlowProcess, id: string, status: string, watch?: ProcessWatch, timeoutMs = 60_000): Promise<InstanceView> {
  return until(
    async () => {
      const v = await instance(f, id);
      watch?.note(v.pid);
      if (v.status === 'error' && status !== 'error') throw new Error(`${id} failed: ${v.lastError}`);
      return v.status === status ? v : undefined;
    },
    `${id} to be ${status}`,
    timeoutMs,
  );
}

export async function sessionOf(f: FlowProcess, id: string): Promise<SessionView> {
  return (await json<SessionView>(`${f.url}/api/sessions/${id}`)).body;
}

/** A client of /api/sessions/:id/events that keeps every message it receives. */
export class Feed {
  readonly messages: FeedMessage[] = [];
  private readonly abort = new AbortController();
  private constructor() {}

  static async open(f: FlowProcess, sessionId: string): Promise<Feed> {
    const feed = new Feed();
    const res = await fetch(`${f.url}/api/sessions/${sessionId}/events`, { headers: { accept: 'text/event-stream' }, signal: feed.abort.signal });
    if (!res.ok || !res.body) throw new Error(`feed: ${res.status}`);
    const parser = createParser({ onEvent: (e) => feed.messages.push(JSON.parse(e.data) as FeedMessage) });
    const decoder = new TextDecoder();
    void (async () => {
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
      } catch {
        /* closed */
      }
    })();
    await until(() => feed.messages.length > 0, 'the feed to say hello', 5000);
    return feed;
  }

  of(type: string): FeedMessage[] {
    return this.messages.filter((m) => m.type === type);
  }

  waitFor(pred: (m: FeedMessage) => boolean, what: string, timeoutMs = 60_000): Promise<FeedMessage> {
    return until(() => this.messages.find(pred), what, timeoutMs);
  }

  close(): void {
    this.abort.abort();
  }
}

export const isSessionStatus = (status: string) => (m: FeedMessage) => m.type === 'session' && m.session?.status === status;

/**
 * The end of an opencode spec: Flow stopped as a user stops it (SIGTERM stops its instances),
 * then whatever opencode the spec saw, any process of its home, the stub model, the temp dirs.
 */
export async function endSpec(s: { flow: FlowProcess | undefined; watch: ProcessWatch; home?: string; stub: StubModel | undefined; cleanups: (() => void)[] }): Promise<void> {
  if (s.flow && s.flow.proc.exitCode === null && s.flow.proc.signalCode === null) {
    s.flow.proc.kill('SIGTERM');
    await s.flow.exited;
  }
  s.watch.killAll();
  if (s.home) killLeftoversOfHome(s.home);
  await s.stub?.close();
  while (s.cleanups.length) s.cleanups.pop()!();
}
