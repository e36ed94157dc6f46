// Loader hooks (module.register): appends every resolved module URL to $FLOW_RECORD_LOADS.
import { appendFileSync } from 'node:fs';

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(process.env.FLOW_RECORD_LOADS, `${resolved.url}\n`);
  return resolved;
}
