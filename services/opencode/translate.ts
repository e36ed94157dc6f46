import type { InstanceContext, MessageRecord, SessionInfo } from '../../actors/opencode-instance/index.js';
import type { WireEvent } from './events.js';
import type { SessionFeedMessage } from './feed.js';
import {
  WireErrorSchema,
  WireMessageInfoSchema,
  WirePartSchema,
  WirePermissionSchema,
  WireQuestionSchema,
  WireSessionSchema,
  WireStatusSchema,
  errorInfo,
  messageRecord,
  messageText,
  partView,
  permissionRequest,
  questionRequest,
  sessionInfo,
  tokensOf,
  type WireMessage,
  type WireMessageInfo,
  type WirePart,
} from './wire.js';
import { z } from 'zod';

/**
 * Turns one instance's opencode events into Flow's: durable facts (observed into the actor's
 * stream, only when they change what Flow knows: opencode repeats `session.status busy` and
 * `session.updated` many times a turn) and live feed messages (deltas, parts) that are not.
 */
export interface TranslatorDeps {
  /** The actor's latest context. */
  context(): InstanceContext;
  observe(type: string, data: Record<string, unknown>): void;
  publish(msg: SessionFeedMessage): void;
  /** Fetches a message when its parts were not seen (after a reconnect). */
  fetchMessage(sessionId: string, messageId: string): Promise<WireMessage>;
  log(line: string): void;
}

const SessionIdProps = z.object({ sessionID: z.string() });

export class EventTranslator {
  private readonly infos = new Map<string, WireMessageInfo>();
  private readonly parts = new Map<string, Map<string, WirePart>>();
  private readonly recorded = new Set<string>();

  constructor(private readonly deps: TranslatorDeps) {}

  handle(e: WireEvent): void {
    const p = e.properties;
    switch (e.type) {
      case 'message.part.delta': {
        const d = z.object({ sessionID: z.string(), messageID: z.string(), partID: z.string(), field: z.string(), delta: z.string() }).safeParse(p);
        if (d.success) this.deps.publish({ type: 'delta', sessionId: d.data.sessionID, messageId: d.data.messageID, partId: d.data.partID, field: d.data.field, delta: d.data.delta });
        return;
      }
      case 'message.part.updated':
        return this.onPart(p.part);
      case 'message.updated':
        return this.onMessage(p.info);
      case 'session.created':
      case 'session.updated':
        return this.onSessionInfo(p.info);
      case 'session.deleted': {
        const s = WireSessionSchema.safeParse(p.info);
        const id = s.success ? s.data.id : SessionIdProps.safeParse(p).data?.sessionID;
        if (id && this.deps.context().sessions[id]) this.deps.observe('SESSION_DELETED', { sessionId: id });
        return;
      }
      case 'session.status':
        return this.onStatus(p);
      case 'session.error': {
        const s = SessionIdProps.safeParse(p);
        const err = errorInfo(WireErrorSchema.safeParse(p.error).data);
        if (s.success && err && this.deps.context().sessions[s.data.sessionID]) this.deps.observe('SESSION_ERROR', { sessionId: s.data.sessionID, error: err });
        return;
      }
      case 'permission.asked': {
        const w = WirePermissionSchema.safeParse(p);
        if (!w.success) return;
        const req = permissionRequest(w.data);
        const s = this.deps.context().sessions[req.sessionId];
        if (s && !s.permissions.some((x) => x.id === req.id)) this.deps.observe('PERMISSION_ASKED', { permission: req });
        return;
      }
      case 'permission.replied': {
        const r = z.object({ sessionID: z.string(), requestID: z.string(), reply: z.string() }).safeParse(p);
        if (r.success) this.permissionReplied(r.data.sessionID, r.data.requestID, r.data.reply);
        return;
      }
      case 'question.asked': {
        const w = WireQuestionSchema.safeParse(p);
        if (!w.success) return;
        const req = questionRequest(w.data);
        const s = this.deps.context().sessions[req.sessionId];
        if (s && !s.questions.some((x) => x.id === req.id)) this.deps.observe('QUESTION_ASKED', { question: req });
        return;
      }
      case 'question.replied':
      case 'question.rejected': {
        const r = z.object({ sessionID: z.string(), requestID: z.string() }).safeParse(p);
        if (r.success) this.questionAnswered(r.data.sessionID, r.data.requestID, e.type === 'question.replied' ? 'replied' : 'rejected');
        return;
      }
      default:
        return;
    }
  }

  /** Recorded as soon as Flow knows (the reply it forwarded succeeded), and again never. */
  permissionReplied(sessionId: string, requestId: string, reply: string): void {
    if (this.deps.context().sessions[sessionId]?.permissions.some((x) => x.id === requestId)) {
      this.deps.observe('PERMISSION_REPLIED', { sessionId, requestId, reply });
    }
  }

  questionAnswered(sessionId: string, requestId: string, outcome: 'replied' | 'rejected'): void {
    if (this.deps.context().sessions[sessionId]?.questions.some((x) => x.id === requestId)) {
      this.deps.observe('QUESTION_ANSWERED', { sessionId, requestId, outcome });
    }
  }

  /** A session Flow created itself: recorded at once, so it can be used before opencode's event arrives. */
  sessionCreated(info: SessionInfo): void {
    if (!this.deps.context().sessions[info.id]) this.deps.observe('SESSION_CREATED', { session: info });
  }

  private onSessionInfo(raw: unknown): void {
    const w = WireSessionSchema.safeParse(raw);
    if (!w.success) return;
    const info = sessionInfo(w.data);
    const known = this.deps.context().sessions[info.id];
    if (!known) return this.deps.observe('SESSION_CREATED', { session: info });
    const changed =
      known.title !== info.title ||
      (info.cost !== null && known.cost !== info.cost) ||
      (info.tokens !== null && JSON.stringify(known.tokens) !== JSON.stringify(info.tokens));
    if (changed) this.deps.observe('SESSION_UPDATED', { session: info });
  }

  private onStatus(p: Record<string, unknown>): void {
    const s = SessionIdProps.safeParse(p);
    const st = WireStatusSchema.safeParse(p.status);
    if (!s.success || !st.success) return;
    const known = this.deps.context().sessions[s.data.sessionID];
    if (!known) return;
    const status = st.data.type;
    const detail = status === 'retry' ? `retry ${st.data.attempt ?? '?'}: ${st.data.message ?? ''}`.trim() : null;
    const pending = known.permissions.length + known.questions.length > 0;
    const same = status === 'idle' ? !pending && ['idle', 'error', 'interrupted'].includes(known.state) : known.state === status && known.detail === detail;
    if (!same) this.deps.observe('SESSION_STATUS', { sessionId: s.data.sessionID, status, detail });
  }

  private onPart(raw: unknown): void {
    const w = WirePartSchema.safeParse(raw);
    if (!w.success) return;
    const part = w.data;
    let parts = this.parts.get(part.messageID);
    if (!parts) this.parts.set(part.messageID, (parts = new Map()));
    parts.set(part.id, part);
    this.deps.publish({ type: 'part', sessionId: part.sessionID, part: partView(part) });
    const info = this.infos.get(part.messageID);
    // A user message is complete as soon as its text is there (it has no `completed` time).
    if (info?.role === 'user' && part.type === 'text' && !part.synthetic && !this.recorded.has(info.id)) {
      this.record({ info, parts: [...parts.values()] });
    }
  }

  private onMessage(raw: unknown): void {
    const w = WireMessageInfoSchema.safeParse(raw);
    if (!w.success) return;
    const info = w.data;
    this.infos.set(info.id, info);
    const done = info.role === 'assistant' && (info.time.completed !== undefined || info.error !== undefined);
    this.deps.publish({ type: 'message', sessionId: info.sessionID, messageId: info.id, role: info.role, completed: done });
    if (!done || this.recorded.has(info.id)) return;
    const parts = this.parts.get(info.id);
    if (parts) return this.record({ info, parts: [...parts.values()] });
    // Parts not seen (the stream reconnected mid-turn): ask opencode for the whole message.
    this.recorded.add(info.id);
    void this.deps.fetchMessage(info.sessionID, info.id).then(
      (m) => this.emitRecord(messageRecord(m)),
      (err: unknown) => this.deps.log(`could not fetch message ${info.id}: ${String(err)}`),
    );
  }

  private record(m: { info: WireMessageInfo; parts: WirePart[] }): void {
    this.recorded.add(m.info.id);
    const rec = messageRecord(m);
    // The text so far is the final text (parts carry full text at their end, §0.7).
    rec.text = messageText(m.parts);
    if (m.info.role === 'assistant') rec.tokens = tokensOf(m.info.tokens);
    this.parts.delete(m.info.id);
    if (m.info.role === 'assistant') this.infos.delete(m.info.id);
    this.emitRecord(rec);
  }

  private emitRecord(rec: MessageRecord): void {
    if (!this.deps.context().sessions[rec.sessionId]) return;
    this.deps.observe('MESSAGE_COMPLETED', { message: rec });
    this.deps.publish({ type: 'message.completed', sessionId: rec.sessionId, message: rec });
  }
}
