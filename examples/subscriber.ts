/**
 * An external subscriber to Flow's events in distributed mode: a DURABLE JetStream consumer on
 * the stream FLOW_EVENTS. It prints one line per event and acknowledges it; the server keeps the
 * consumer's place, so a restart continues after the last acknowledged event (and a second copy
 * started with the same name shares the work instead of repeating it).
 *
 *   npm run build
 *   FLOW_NATS_URL=nats://127.0.0.1:4222 node dist/examples/subscriber.js --name audit
 *   node dist/examples/subscriber.js --name api-watch --filter 'flow.events.backend-child.backend-child:api'
 *
 * Options (each also from the environment):
 *   --name NAME      the durable consumer's name (FLOW_SUBSCRIBER_NAME; default flow-subscriber)
 *   --filter SUBJECT which events, as a subject without the prefix (default flow.events.>,
 *                    e.g. flow.events.backend-child.> for every backend)
 *   --nats URL       the NATS server (FLOW_NATS_URL; default nats://127.0.0.1:4222)
 *   FLOW_NATS_PREFIX the same prefix Flow runs with: stream <prefix>_FLOW_EVENTS, subjects <prefix>.flow.events.…
 *
 * Output, one line per event: `#<position> <host> <streamId> v<version> <type>`. A message that
 * is not an event envelope is reported on stderr and terminated (never delivered again).
 * Ctrl+C or SIGTERM stops it after the message in hand is acknowledged.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type ConsumerMessages, type JetStreamManager } from '@nats-io/jetstream';
import { parseArgs } from 'node:util';
import { flowNames, type FlowNames } from '../services/bus/names.js';
import { EventEnvelopeSchema } from '../services/store/envelope.js';

const { values } = parseArgs({
  options: {
    name: { type: 'string', default: process.env.FLOW_SUBSCRIBER_NAME ?? 'flow-subscriber' },
    filter: { type: 'string', default: 'flow.events.>' },
    nats: { type: 'string', default: process.env.FLOW_NATS_URL ?? 'nats://127.0.0.1:4222' },
  },
});
const name = values.name;
if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) fail(`--name is 1-64 letters, digits, "-" or "_" (a durable consumer's name), not ${JSON.stringify(name)}`);
if (!values.filter.startsWith('flow.events.')) fail(`--filter is a subject under flow.events. (without the prefix), not ${JSON.stringify(values.filter)}`);
const names = flowNames(process.env.FLOW_NATS_PREFIX ?? '');
const filterSubject = names.toNats(values.filter);

function fail(message: string): never {
  process.stderr.write(`subscriber: ${message}\n`);
  process.exit(2);
}

/** Waits for the stream (the first Flow host creates it) rather than creating it here. */
async function waitForStream(jsm: JetStreamManager, n: FlowNames): Promise<void> {
  for (let said = false; ; said = true) {
    try {
      await jsm.streams.info(n.stream);
      return;
    } catch (err) {
      if (!/not found/i.test(String(err))) throw err;
      if (!said) process.stderr.write(`subscriber: waiting for the stream ${n.stream} (Flow creates it when a host or a gateway starts)\n`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/** Creates the durable consumer, or points an existing one at the filter asked for. Its position is kept either way. */
async function ensureConsumer(jsm: JetStreamManager): Promise<void> {
  try {
    const info = await jsm.consumers.info(names.stream, name);
    if (info.config.filter_subject !== filterSubject) await jsm.consumers.update(names.stream, name, { filter_subject: filterSubject });
    return;
  } catch (err) {
    if (!/not found/i.test(String(err))) throw err;
  }
  await jsm.consumers.add(names.stream, {
    durable_name: name,
    filter_subject: filterSubject,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
  });
}

async function main(): Promise<void> {
  // Before consuming there is nothing to finish, so a signal just ends it; once consuming, it
  // stops taking messages and ends after the one in hand is acknowledged.
  let messages: ConsumerMessages | null = null;
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    if (messages) void messages.close();
    else process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

  let nc: NatsConnection;
  try {
    nc = await connect({ servers: values.nats, name: `flow-subscriber-${name}` });
  } catch (err) {
    fail(`cannot reach NATS at ${values.nats}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const jsm = await jetstreamManager(nc);
  await waitForStream(jsm, names);
  await ensureConsumer(jsm);
  const consumer = await jetstream(nc).consumers.get(names.stream, name);
  const pending = (await consumer.info()).num_pending;
  process.stderr.write(`subscriber: consumer ${name} on ${names.stream} (filter ${filterSubject}), ${pending} event(s) waiting\n`);

  messages = await consumer.consume();
  for await (const m of messages) {
    let parsed: ReturnType<typeof EventEnvelopeSchema.safeParse>;
    try {
      parsed = EventEnvelopeSchema.safeParse(m.json());
    } catch {
      parsed = EventEnvelopeSchema.safeParse(undefined);
    }
    if (!parsed.success) {
      process.stderr.write(`subscriber: message ${m.seq} on ${m.subject} is not an event envelope (${parsed.error.issues.map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`).join('; ')}); skipped\n`);
      m.term(); // (a reason, term(reason), needs nats-server 2.10.4 or newer)
      continue;
    }
    const e = parsed.data;
    process.stdout.write(`#${e.position} ${e.host} ${e.streamId} v${e.version} ${e.type}\n`);
    // Acknowledged only after it is handled, and confirmed by the server before the next one:
    // a crash in between means the event is printed again on restart, never skipped.
    if (!(await m.ackAck().catch(() => false))) process.stderr.write(`subscriber: the ack of message ${m.seq} was not confirmed; it may be delivered again\n`);
    if (stopping) break;
  }
  await nc.drain();
}

main().catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
