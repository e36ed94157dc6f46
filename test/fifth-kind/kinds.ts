import { kinds } from '../../actors/index.js';
import type { AnyKind } from '../../actors/kind.js';
import { timerKind } from './actors/timer/index.js';

/** Flow's kinds list, plus one line: the fifth kind. */
export const testKinds: readonly AnyKind[] = [...kinds, timerKind];

export function testKindFor(streamType: string): AnyKind | undefined {
  return testKinds.find((k) => k.streamType === streamType);
}
