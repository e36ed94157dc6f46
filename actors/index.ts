import type { z } from 'zod';
import { commandRouter, commandUnion, type AnyKind } from './kind.js';
import { backendChildKind } from './backend-child/index.js';
import { tunnelKind } from './tunnel/index.js';
import { toolInstallKind } from './tool-install/index.js';
import { opencodeInstanceKind } from './opencode-instance/index.js';

/** Every actor kind Flow knows. A new kind is one folder under actors/ and one line here. */
export const kinds = [backendChildKind, tunnelKind, toolInstallKind, opencodeInstanceKind] as const;

const byType: ReadonlyMap<string, AnyKind> = new Map<string, AnyKind>(kinds.map((k) => [k.streamType, k]));

/** The stream types of every kind. */
export const streamTypes: readonly string[] = kinds.map((k) => k.streamType);

export function kindFor(streamType: string): AnyKind | undefined {
  return byType.get(streamType);
}

/** Every command the host accepts: the union of every kind's command schemas. */
export const CommandSchema = commandUnion(kinds);
export type Command = z.infer<typeof CommandSchema>;

const route = commandRouter<AnyKind>(kinds);

/** The actor a command is for, and whether it may create it; undefined if no kind handles it. */
export function commandTarget(command: { type: string }): { streamId: string; creates: boolean } | undefined {
  const t = route(command);
  return t && { streamId: t.event.streamId, creates: t.event.creates };
}
