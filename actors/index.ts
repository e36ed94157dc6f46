import type { ActorKind } from './kind.js';
import { backendChildKind } from './backend-child/index.js';
import { tunnelKind } from './tunnel/index.js';
import { toolInstallKind } from './tool-install/index.js';
import { opencodeInstanceKind } from './opencode-instance/index.js';

/** Every actor kind Flow knows, by stream type. */
export const kinds: ReadonlyMap<string, ActorKind> = new Map<string, ActorKind>([
  [backendChildKind.streamType, backendChildKind as unknown as ActorKind],
  [tunnelKind.streamType, tunnelKind as unknown as ActorKind],
  [toolInstallKind.streamType, toolInstallKind as unknown as ActorKind],
  [opencodeInstanceKind.streamType, opencodeInstanceKind as unknown as ActorKind],
]);

export function kindFor(streamType: string): ActorKind | undefined {
  return kinds.get(streamType);
}

/** The actor a command is for, and whether it may create it; undefined if no kind handles it. */
export function commandTarget(command: { type: string }): { streamId: string; creates: boolean } | undefined {
  for (const kind of kinds.values()) {
    const t = kind.fromCommand?.(command);
    if (t) return { streamId: t.streamId, creates: t.creates };
  }
  return undefined;
}
