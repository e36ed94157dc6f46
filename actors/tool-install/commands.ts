import { defineCommands, HOST_ID_REGEX, HostIdSchema } from '../kind.js';
import { TOOL_ID_REGEX, ToolIdSchema } from './events.js';

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
 * No client command: installs are requested by `f install` / `f cli uninstall`, which write
 * these requests through services/tool-install/recorder.ts.
 */
export const toolInstallCommands = defineCommands({
  schemas: [],
  toEvent: () => {
    throw new Error('tool-install takes no commands through the host');
  },
  requests: ['INSTALL_REQUESTED', 'UNINSTALL_REQUESTED'],
});
