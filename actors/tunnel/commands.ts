import { z } from 'zod';
import { defineCommands } from '../kind.js';
import { commandWordsSchema } from '../process-words.js';
import { RelayConfigSchema, TunnelNameSchema, type TunnelConfig, type tunnelEvents } from './events.js';

export function tunnelStreamId(name: string): string {
  return `tunnel:${name}`;
}

/** The name a tunnel gets when none is given: one tunnel per local port by default. */
export function defaultTunnelName(port: number): string {
  return `port-${port}`;
}

/** The command a tunnel runs instead of cloudflared's default, as a client may give it. */
export const TunnelCommandWordsSchema = commandWordsSchema('a tunnel command needs at least one word');

/** Commands a client may send about a tunnel; each maps to one event of `tunnel:<name>`. */
const schemas = [
  z.object({
    type: z.literal('tunnel.start'),
    name: TunnelNameSchema.optional(),
    port: z.number().int().min(1).max(65535),
    command: TunnelCommandWordsSchema.optional(),
    relay: RelayConfigSchema.optional(),
  }),
  z.object({ type: z.literal('tunnel.stop'), name: TunnelNameSchema }),
  z.object({ type: z.literal('tunnel.restart'), name: TunnelNameSchema }),
  z.object({ type: z.literal('tunnel.remove'), name: TunnelNameSchema }),
] as const;
export const TunnelCommandSchema = z.discriminatedUnion('type', schemas);
export type TunnelCommand = z.infer<typeof TunnelCommandSchema>;

export const tunnelCommandEvent = {
  'tunnel.start': 'START_REQUESTED',
  'tunnel.stop': 'STOP_REQUESTED',
  'tunnel.restart': 'RESTART_REQUESTED',
  'tunnel.remove': 'REMOVE_REQUESTED',
} as const satisfies Record<TunnelCommand['type'], keyof typeof tunnelEvents>;

/** The stream and event a tunnel command becomes (the host appends it, the machine judges it). */
export function tunnelCommandTarget(cmd: TunnelCommand): { streamId: string; name: string; type: (typeof tunnelCommandEvent)[TunnelCommand['type']]; data: Record<string, unknown> } {
  if (cmd.type === 'tunnel.start') {
    const name = cmd.name ?? defaultTunnelName(cmd.port);
    const data: TunnelConfig = { name, port: cmd.port, command: cmd.command ?? null, relay: cmd.relay ?? null };
    return { streamId: tunnelStreamId(name), name, type: 'START_REQUESTED', data };
  }
  return { streamId: tunnelStreamId(cmd.name), name: cmd.name, type: tunnelCommandEvent[cmd.type], data: {} };
}

export const tunnelCommands = defineCommands({
  schemas,
  toEvent: (c: TunnelCommand) => {
    const t = tunnelCommandTarget(c);
    return { streamId: t.streamId, type: t.type, data: t.data, creates: c.type === 'tunnel.start' };
  },
  requests: Object.values(tunnelCommandEvent),
});

