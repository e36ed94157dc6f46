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

/** BullMQ queue names: one any host may take, one per host for the processes it owns. */
export const COMMAND_QUEUE = 'flow-commands';
export const hostQueue = (hostId: string): string => `${COMMAND_QUEUE}.${hostId}`;
