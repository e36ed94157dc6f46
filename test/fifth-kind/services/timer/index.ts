import { timerKind } from '../../actors/timer/index.js';
import { defineServices } from '../../../../services/host/effects.js';

/** The timer's one effect: ring the bell (here: note it in `bell`), then report that it rang. */
export function timerServices(bell: string[]) {
  return defineServices(timerKind, {
    effects: {
      ring: (ctx) => {
        bell.push(ctx.name);
        ctx.observe('RANG', {});
      },
    },
  });
}
