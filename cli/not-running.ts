/** What every command that needs the running Flow says when nothing answers. */
export function notRunningMessage(base: string): string {
  return `Flow is not running — start it with \`f up -d\` (nothing answers at ${base}; set FLOW_URL if it runs elsewhere)`;
}
