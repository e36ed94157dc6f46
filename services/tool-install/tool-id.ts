/**
 * The tool-id pattern without zod, for the `f cli <id>` fast path (zod alone costs more start-up
 * time than the rest of `f cli`). actors/tool-install/ holds the zod schema built from the same
 * pattern; test/tool-install/ids.test.ts keeps the two equal.
 */
export const TOOL_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** Names `f cli` uses for its own subcommands; a tool (or alias) may not take them. */
export const RESERVED_TOOL_IDS: readonly string[] = ['list', 'which', 'doctor', 'uninstall', 'upgrade', 'run', 'help'];

export function isToolId(s: string): boolean {
  return TOOL_ID_PATTERN.test(s);
}

export function describeBadToolId(s: string): string {
  return `"${s}" is not a tool id: ids are 1-64 lower-case letters, digits or "-", starting with a letter or digit (no "/", "..", spaces or capitals)`;
}
