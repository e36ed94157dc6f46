import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderSchemas, staleSchemaFiles, WIRE_SCHEMAS } from '../../scripts/json-schemas.js';

const DIR = join(process.cwd(), 'schemas');

describe('schemas/*.json', () => {
  it('are what scripts/json-schemas.ts generates from the zod schemas now (else: npm run schemas)', () => {
    const rendered = renderSchemas();
    expect([...rendered.keys()].sort()).toEqual(['command-job.json', 'command-result.json', 'event-envelope.json']);
    for (const [file, text] of rendered) {
      // Compared file by file, so a failure names the file and shows the diff.
      expect(readFileSync(join(DIR, file), 'utf8'), `schemas/${file} is out of date: run "npm run schemas"`).toBe(text);
    }
    expect(staleSchemaFiles(DIR), 'schemas/ holds files the generator does not write').toEqual([]);
  });

  it('are JSON Schema 2020-12 documents with a title, describing the wire fields', () => {
    for (const w of WIRE_SCHEMAS) {
      const doc = JSON.parse(readFileSync(join(DIR, w.file), 'utf8')) as Record<string, unknown>;
      expect(doc.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(doc.title).toBe(w.title);
    }
    const envelope = JSON.parse(readFileSync(join(DIR, 'event-envelope.json'), 'utf8')) as { required: string[] };
    expect(envelope.required).toEqual(['id', 'position', 'host', 'streamType', 'streamId', 'version', 'type', 'data', 'meta', 'at']);
    const job = JSON.parse(readFileSync(join(DIR, 'command-job.json'), 'utf8')) as { required: string[] };
    expect(job.required).toEqual(['command', 'meta']);
    const result = JSON.parse(readFileSync(join(DIR, 'command-result.json'), 'utf8')) as { oneOf: unknown[] };
    expect(result.oneOf).toHaveLength(2);
  });
});
