/**
 * JSON Schemas of what crosses the wire in distributed mode, generated from the zod schemas the
 * code itself validates with, into schemas/*.json:
 *
 *   npm run schemas                                  # build, then write schemas/*.json
 *   node dist/scripts/json-schemas.js --check        # exit 1 if schemas/ is not up to date
 *   node dist/scripts/json-schemas.js --out DIR      # write somewhere else
 *
 * Each schema is the receiving side's contract (zod's input side: fields with a default may be
 * left out, unknown keys of non-strict objects are ignored); everything Flow sends satisfies it.
 * test/examples/schemas.test.ts fails when the committed files differ from what this produces.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { CommandResultSchema } from '../services/host/commands.js';
import { CommandJobSchema } from '../services/queue/bullmq.js';
import { EventEnvelopeSchema } from '../services/store/envelope.js';

interface WireSchema {
  file: string;
  title: string;
  description: string;
  schema: z.ZodType;
}

export const WIRE_SCHEMAS: readonly WireSchema[] = [
  {
    file: 'event-envelope.json',
    title: 'Flow event envelope',
    description:
      'One event, as a JSON message on the JetStream stream FLOW_EVENTS (or <prefix>_FLOW_EVENTS), subject flow.events.<streamType>.<streamId> (prefixed with "<prefix>." when FLOW_NATS_PREFIX is set), message id = the event id. ' +
      'Also the envelope of GET /api/events/log, the SSE stream and the WebSocket stream. `f events schema` prints the schema of each event type\'s `data`.',
    schema: EventEnvelopeSchema,
  },
  {
    file: 'command-job.json',
    title: 'Flow command job',
    description:
      'The data of a BullMQ job on the queue flow-commands (any host) or flow-commands.<hostId> (the host that owns the actor), key prefix "flow" (or "flow-<prefix>"); the job name is the command type and the job id is the command id that GET /api/commands/:id takes.',
    schema: CommandJobSchema,
  },
  {
    file: 'command-result.json',
    title: 'Flow command result',
    description: 'The return value of a command job: the outcome the API answers with (an error code maps to an HTTP status).',
    schema: CommandResultSchema,
  },
];

/** File name → file content, exactly as the files in schemas/ should read. */
export function renderSchemas(): Map<string, string> {
  const out = new Map<string, string>();
  for (const w of WIRE_SCHEMAS) {
    const { $schema, ...rest } = z.toJSONSchema(w.schema, { io: 'input' }) as Record<string, unknown>;
    const doc = { $schema, title: w.title, description: w.description, ...rest };
    out.set(w.file, `${JSON.stringify(doc, null, 2)}\n`);
  }
  return out;
}

/** Files in `dir` that are missing, differ, or should not be there (any other *.json). */
export function staleSchemaFiles(dir: string): string[] {
  const wanted = renderSchemas();
  const stale: string[] = [];
  let present: string[] = [];
  try {
    present = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    present = [];
  }
  for (const [file, text] of wanted) {
    let current: string | null = null;
    try {
      current = readFileSync(join(dir, file), 'utf8');
    } catch {
      current = null;
    }
    if (current !== text) stale.push(file);
  }
  for (const f of present) if (!wanted.has(f)) stale.push(f);
  return stale;
}

export function writeSchemas(dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const [file, text] of renderSchemas()) {
    writeFileSync(join(dir, file), text);
    written.push(join(dir, file));
  }
  return written;
}

function main(): void {
  const { values } = parseArgs({ options: { out: { type: 'string' }, check: { type: 'boolean' } } });
  const dir = resolve(values.out ?? 'schemas');
  if (values.check) {
    const stale = staleSchemaFiles(dir);
    if (stale.length) {
      process.stderr.write(`${dir} is not up to date (${stale.join(', ')}): run "npm run schemas"\n`);
      process.exitCode = 1;
    } else process.stdout.write(`${dir} is up to date\n`);
    return;
  }
  for (const f of writeSchemas(dir)) process.stdout.write(`wrote ${f}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
