// `node --import ./record-loads.mjs …`: records which modules a process loads, ESM through the
// loader hooks, CommonJS (what an ESM import of a CJS package requires) from require.cache at exit.
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

register(new URL('./record-loads-hooks.mjs', import.meta.url));
const require = createRequire(import.meta.url);
process.on('exit', () => {
  appendFileSync(process.env.FLOW_RECORD_LOADS, Object.keys(require.cache).map((p) => `file://${p}\n`).join(''));
});
