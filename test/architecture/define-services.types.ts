/**
 * A type-level spec, checked by `tsc -p tsconfig.json` (not run by vitest): the services of a
 * kind must name exactly the kind's effects. Each `@ts-expect-error` fails the typecheck if the
 * line below it ever compiles.
 */
import { backendChildKind } from '../../actors/backend-child/index.js';
import { tunnelKind } from '../../actors/tunnel/index.js';
import { defineServices, type Effect } from '../../services/host/effects.js';

const noop: Effect = () => {};

// Given every effect the kind names, then it compiles.
defineServices(backendChildKind, { effects: { spawnProcess: noop, killProcess: noop } });

// Given a missing effect, then it does not compile.
// @ts-expect-error killProcess is missing
defineServices(backendChildKind, { effects: { spawnProcess: noop } });

// Given a misnamed effect, then it does not compile.
// @ts-expect-error spawnProces is not an effect of backend-child
defineServices(backendChildKind, { effects: { spawnProces: noop, spawnProcess: noop, killProcess: noop } });

// Given another kind's effects, then it does not compile.
// @ts-expect-error a tunnel's services are not a backend's
defineServices(tunnelKind, { effects: { spawnProcess: noop, killProcess: noop } });

// Given a hook of the wrong shape, then it does not compile.
defineServices(backendChildKind, {
  effects: { spawnProcess: noop, killProcess: noop },
  // @ts-expect-error reconcile returns a promise
  reconcile: () => 1,
});
