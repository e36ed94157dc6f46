import { z } from 'zod';

/**
 * Names shared by every process on one NATS server and one Redis. A prefix (FLOW_NATS_PREFIX)
 * lets several Flows, or several test runs, share them without seeing each other's traffic.
 */
export const NamePrefixSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,40}$/, 'a name prefix is 1-40 letters, digits, "-" or "_" (it becomes part of NATS subjects and stream names)');

export interface FlowNames {
  prefix: string;
  /** JetStream stream holding every event of every host. */
  stream: string;
  /** Wildcard for the stream's subjects. */
  eventsWildcard: string;
  eventSubject(streamType: string, streamId: string): string;
  /** Core NATS subject for a live subject (`flow.live.…`), and back. */
  toNats(subject: string): string;
  fromNats(subject: string): string;
  /** BullMQ's key prefix in Redis. */
  bullPrefix: string;
}

export function flowNames(prefix = ''): FlowNames {
  if (prefix) NamePrefixSchema.parse(prefix);
  const dot = prefix ? `${prefix}.` : '';
  return {
    prefix,
    stream: prefix ? `${prefix}_FLOW_EVENTS` : 'FLOW_EVENTS',
    eventsWildcard: `${dot}flow.events.>`,
    eventSubject: (streamType, streamId) => `${dot}flow.events.${streamType}.${streamId}`,
    toNats: (subject) => `${dot}${subject}`,
    fromNats: (subject) => (dot && subject.startsWith(dot) ? subject.slice(dot.length) : subject),
    bullPrefix: prefix ? `flow-${prefix}` : 'flow',
  };
}

const LIVE = 'flow.live';

/**
 * One subject token from any string: letters, digits, "-" and "_" stay; every other character
 * becomes %XX (its UTF-8 bytes), and the empty string "%". So a name can never split a subject
 * ("."), widen a subscription ("*", ">") or be refused by NATS (spaces, an empty token), and
 * two different names never give the same token.
 */
function token(value: string): string {
  if (value === '') return '%';
  return value.replace(/[^A-Za-z0-9_-]+/gu, (run) => [...Buffer.from(run, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join(''));
}

function untoken(value: string): string {
  if (value === '%') return '';
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** `flow.live.<streamType>.<tokens…>`; a wildcard ("*", or ">" last) passes as it is: patterns are written here only. */
function live(streamType: string, tokens: readonly string[], wildcards = false): string {
  const spelled = tokens.map((t, i) => (wildcards && (t === '*' || (t === '>' && i === tokens.length - 1)) ? t : token(t)));
  return [LIVE, token(streamType), ...spelled].join('.');
}

/**
 * Live-only traffic (output lines, token deltas, the task board): not durable, not replayed.
 * Every live subject and pattern is built here, so a publisher and its subscribers cannot
 * disagree on a spelling. NATS gets them with the prefix (FlowNames.toNats).
 */
export const liveSubjects = {
  /** Output lines of a supervised process: `flow.live.<streamType>.<name>.output`. */
  output: (streamType: string, name: string): string => live(streamType, [name, 'output']),
  /** Every output of one kind. */
  outputs: (streamType: string): string => live(streamType, ['*', 'output'], true),
  /** CPU and memory samples of a running backend: `flow.live.<streamType>.<name>.metrics`. */
  metrics: (streamType: string, name: string): string => live(streamType, [name, 'metrics']),
  allMetrics: (streamType: string): string => live(streamType, ['*', 'metrics'], true),
  /** One OpenCode session's feed (deltas, parts, its state). */
  session: (instanceId: string, sessionId: string): string => live('opencode-instance', [instanceId, 'session', sessionId]),
  /** Changes of "who waits for you" on one OpenCode instance. */
  attention: (instanceId: string): string => live('opencode-instance', [instanceId, 'attention']),
  attentionAll: live('opencode-instance', ['*', 'attention'], true),
  taskboard: {
    update: live('taskboard', ['update']),
    metadata: live('taskboard', ['metadata-update']),
    theme: live('taskboard', ['theme']),
    /** A feature was created, changed or deleted (its events are in the log, stream type "feature"). */
    feature: live('taskboard', ['feature']),
    all: live('taskboard', ['>'], true),
  },
  /** A live subject's stream type and the tokens after it (decoded); undefined for any other subject. */
  parse(subject: string): { streamType: string; tokens: string[] } | undefined {
    const parts = subject.split('.');
    if (parts.length < 4 || `${parts[0]}.${parts[1]}` !== LIVE) return undefined;
    return { streamType: untoken(parts[2]!), tokens: parts.slice(3).map(untoken) };
  },
} as const;

/** BullMQ queue names: one any host may take, one per host for the processes it owns. */
export const COMMAND_QUEUE = 'flow-commands';
export const hostQueue = (hostId: string): string => `${COMMAND_QUEUE}.${hostId}`;
