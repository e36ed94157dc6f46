import type { FastifyInstance } from 'fastify';
import { parse } from 'secure-json-parse';
import { ApiError } from './errors.js';

const FORBIDDEN_KEY = /forbidden (prototype|constructor) property/;

/**
 * JSON bodies, parsed with secure-json-parse as Fastify's own parser parses them (a `__proto__`
 * or `constructor.prototype` key is refused, so no merge of a body can reach a prototype), but
 * the refusal says what was wrong: Fastify's says "Body is not valid JSON" for every case,
 * including a valid one that holds `__proto__`.
 */
export function installJsonBodyParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string;
    if (text.length === 0) {
      done(ApiError.invalid('the body is empty but its Content-Type is application/json: send a JSON value, or no Content-Type'), undefined);
      return;
    }
    try {
      done(null, parse(text, { protoAction: 'error', constructorAction: 'error' }));
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      done(ApiError.invalid(FORBIDDEN_KEY.test(why) ? 'the JSON body holds a "__proto__" or "constructor.prototype" key; Flow refuses those (no field of its API has either name)' : `the body is not valid JSON: ${why}`), undefined);
    }
  });
}
