import type { OpencodeClient } from './client.js';
import type { EventTranslator } from './translate.js';
import { messageRecord, partView, sessionInfo, type WireMessage } from './wire.js';
import type { SessionInfo } from '../../actors/opencode-instance.js';
import type { MessageView } from './views.js';

/**
 * What the gateway asks of running instances: every call for a session goes to the one process
 * that owns it (opencode answers `true` to an abort sent to another process and does nothing,
 * §0.4). The routes check existence and state against the read model first; this only talks
 * to opencode and records what Flow learns from the answer at once.
 */
export interface LiveInstance {
  client: OpencodeClient;
  translator: EventTranslator;
}

export class InstanceNotReadyError extends Error {
  override readonly name = 'InstanceNotReadyError';
}

export class OpencodeRuntime {
  constructor(private readonly lookup: (instanceId: string) => LiveInstance | null) {}

  private live(instanceId: string): LiveInstance {
    const l = this.lookup(instanceId);
    if (!l) throw new InstanceNotReadyError(`the instance ${instanceId} is not running`);
    return l;
  }

  isLive(instanceId: string): boolean {
    return this.lookup(instanceId) !== null;
  }

  async createSession(instanceId: string, title?: string): Promise<SessionInfo> {
    const l = this.live(instanceId);
    const info = sessionInfo(await l.client.createSession(title));
    l.translator.sessionCreated(info);
    return info;
  }

  async deleteSession(instanceId: string, sessionId: string): Promise<void> {
    const l = this.live(instanceId);
    await l.client.deleteSession(sessionId);
  }

  async sendMessage(instanceId: string, sessionId: string, text: string, model?: { providerID: string; modelID: string }): Promise<void> {
    await this.live(instanceId).client.promptAsync(sessionId, text, model);
  }

  /** The files the turn of `userMessageId` changed, as unified diffs (opencode's snapshot diff). */
  async turnDiff(instanceId: string, sessionId: string, userMessageId: string): Promise<FileDiff[]> {
    const files = await this.live(instanceId).client.diff(sessionId, userMessageId);
    return files.map((f) => ({ file: f.file, patch: f.patch, additions: f.additions, deletions: f.deletions, status: f.status ?? null }));
  }

  /** The models this instance offers (ids and names only: the provider options hold keys). */
  async models(instanceId: string): Promise<ModelChoice> {
    const p = await this.live(instanceId).client.providers();
    return {
      models: p.providers.flatMap((prov) => Object.entries(prov.models).map(([key, m]) => ({ providerId: prov.id, modelId: m.id ?? key, name: `${prov.name ?? prov.id} · ${m.name ?? m.id ?? key}` }))),
      defaults: Object.entries(p.default).map(([providerId, modelId]) => ({ providerId, modelId })),
    };
  }

  async abort(instanceId: string, sessionId: string): Promise<void> {
    await this.live(instanceId).client.abort(sessionId);
  }

  async replyPermission(instanceId: string, sessionId: string, permissionId: string, reply: 'once' | 'always' | 'reject', message?: string): Promise<void> {
    const l = this.live(instanceId);
    await l.client.replyPermission(permissionId, reply, message);
    l.translator.permissionReplied(sessionId, permissionId, reply);
  }

  async answerQuestion(instanceId: string, sessionId: string, questionId: string, answer: { answers: string[][] } | { reject: true }): Promise<void> {
    const l = this.live(instanceId);
    if ('reject' in answer) await l.client.rejectQuestion(questionId);
    else await l.client.replyQuestion(questionId, answer.answers);
    l.translator.questionAnswered(sessionId, questionId, 'reject' in answer ? 'rejected' : 'replied');
  }

  /** The conversation as opencode has it now, with tool parts; null when the instance is not running. */
  async messages(instanceId: string, sessionId: string): Promise<MessageView[] | null> {
    const l = this.lookup(instanceId);
    if (!l) return null;
    return (await l.client.messages(sessionId)).map(messageViewOf);
  }
}

export interface FileDiff {
  file: string;
  patch: string;
  additions: number;
  deletions: number;
  status: string | null;
}

export interface ModelChoice {
  models: { providerId: string; modelId: string; name: string }[];
  defaults: { providerId: string; modelId: string }[];
}

const iso = (ms: number) => new Date(ms).toISOString();

export function messageViewOf(m: WireMessage): MessageView {
  const rec = messageRecord(m);
  return {
    ...rec,
    createdAt: iso(rec.createdAt),
    completedAt: rec.completedAt === null ? null : iso(rec.completedAt),
    parts: m.parts
      .filter((p) => ['text', 'reasoning', 'tool'].includes(p.type) && !p.synthetic)
      .map((p) => {
        const v = partView(p);
        return { id: v.id, type: v.type, ...(v.text !== undefined ? { text: v.text } : {}), ...(v.tool ? { tool: { name: v.tool.name, status: v.tool.status, title: v.tool.title, error: v.tool.error, input: v.tool.input, output: v.tool.output } } : {}) };
      }),
  };
}
