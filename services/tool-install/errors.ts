/**
 * A failure the user can act on. `step` says where an install stopped (it becomes the
 * INSTALL_FAILED event's step); `exitCode` is what `f` exits with.
 */
export type ToolStep = 'request' | 'manifest' | 'catalog' | 'download' | 'checksum' | 'extract' | 'build' | 'register' | 'backend';

export class ToolError extends Error {
  override readonly name: string = 'ToolError';
  constructor(
    message: string,
    readonly step: ToolStep = 'request',
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** A flow-tool.toml that cannot be used: names the file, the field and what was expected. */
export class ManifestError extends ToolError {
  override readonly name = 'ManifestError';
  constructor(
    readonly file: string,
    readonly problems: readonly { field: string; expected: string }[],
  ) {
    super(`${file}: ${problems.map((p) => (p.field ? `${p.field}: ${p.expected}` : p.expected)).join('; ')}`, 'manifest');
  }
}
