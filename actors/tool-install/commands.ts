import { z } from 'zod';
import { defineCommands, HOST_ID_REGEX, HostIdSchema } from '../kind.js';
import { TOOL_ID_REGEX, ToolIdSchema, toolInstallEvents } from './events.js';

/**
 * `tool-install:<tool id>_<host id>`. A tool id has no "_", so the first one splits the two.
 * (Logs written before installs were per host hold `tool-install:<tool id>`.)
 */
export function toolInstallStreamId(id: string, host: string): string {
  return `tool-install:${ToolIdSchema.parse(id)}_${HostIdSchema.parse(host)}`;
}

const bare = (r: RegExp) => r.source.replace(/^\^|\$$/g, '');
const TOOL_INSTALL_STREAM = new RegExp(`^tool-install:(${bare(TOOL_ID_REGEX)})(?:_(${bare(HOST_ID_REGEX)}))?$`);

/** The tool and host a tool-install stream is about; host null for a stream named before installs were per host. */
export function parseToolInstallStreamId(streamId: string): { id: string; host: string | null } | undefined {
  const m = TOOL_INSTALL_STREAM.exec(streamId);
  return m ? { id: m[1]!, host: m[2] ?? null } : undefined;
}

/**
 * What `f install`, `f cli upgrade` and `f cli uninstall` send (services/tool-install, through the
 * host that f runs in-process for the command, or straight into the log while `f up` runs). No
 * host of `f up` serves this kind: its files are the machine's own ($FLOW_HOME/cli of this host).
 */
const target = { id: ToolIdSchema, host: HostIdSchema };
const schemas = [
  z.object({ type: z.literal('tool.install'), ...target, ...toolInstallEvents.INSTALL_REQUESTED.shape }),
  z.object({ type: z.literal('tool.register'), host: HostIdSchema, ...toolInstallEvents.REGISTER_REQUESTED.shape }),
  z.object({ type: z.literal('tool.uninstall'), ...target, ...toolInstallEvents.UNINSTALL_REQUESTED.shape }),
] as const;
export const ToolInstallCommandSchema = z.discriminatedUnion('type', schemas);
export type ToolInstallCommand = z.infer<typeof ToolInstallCommandSchema>;

export const toolInstallCommandEvent = {
  'tool.install': 'INSTALL_REQUESTED',
  'tool.register': 'REGISTER_REQUESTED',
  'tool.uninstall': 'UNINSTALL_REQUESTED',
} as const satisfies Record<ToolInstallCommand['type'], keyof typeof toolInstallEvents>;

export const toolInstallCommands = defineCommands({
  schemas,
  toEvent: (c: ToolInstallCommand) => {
    const { type, host, ...rest } = c;
    // tool.register keeps its id in the event (the refusal names it); the others are named by their stream.
    const data: Record<string, unknown> = type === 'tool.register' ? rest : (({ id: _id, ...d }) => d)(rest as { id: string });
    // A registration needs the install it belongs to; an install or an uninstall may be the stream's first event.
    return { streamId: toolInstallStreamId(c.id, host), type: toolInstallCommandEvent[type], data, creates: type !== 'tool.register' };
  },
  requests: Object.values(toolInstallCommandEvent),
});
