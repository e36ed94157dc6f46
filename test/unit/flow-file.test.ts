import { describe, expect, it } from 'vitest';
import { FlowFileError, parseFlowFile } from '../../cli/flow-file/load.js';

function problems(text: string): string {
  try {
    parseFlowFile(text, 'flow.toml');
  } catch (err) {
    if (err instanceof FlowFileError) return err.message;
    throw err;
  }
  throw new Error('expected the file to be refused');
}

describe('flow.toml: parsing and validation', () => {
  it('given a valid file, fills the defaults (restart policy of seed 002, autostart, empty tables)', () => {
    const spec = parseFlowFile('[backends.api]\ncommand = ["node", "server.js"]\nport = 4000\n', 'flow.toml');
    expect(spec.backends.api).toEqual({ command: ['node', 'server.js'], port: 4000, env: {}, watch: [], autostart: true, restart: { max_restarts: 3, backoff_ms: 1000, stable_after_ms: 30_000 } });
    expect(spec).toMatchObject({ instances: {}, tunnels: {}, tools: {} });
  });

  it('a TOML syntax error names the line and column', () => {
    expect(problems('[backends.api]\ncommand = ["node",\nport = = 4\n')).toMatch(/^flow\.toml:3:\d+: not valid TOML/);
  });

  it('a value of the wrong type names its line, its field and what it got', () => {
    expect(problems('# comment\n[backends.api]\ncommand = ["node"]\nport = "abc"\n')).toBe('flow.toml:4: backends.api.port: expected a port number from 1 to 65535 (got "abc")');
  });

  it('a missing field is reported at its table header', () => {
    expect(problems('[tunnels.web]\nport = 80\n\n[backends.api]\ncwd = "api"\n')).toMatch(/^flow\.toml:4: backends\.api\.command: /);
  });

  it('a misspelt key is refused with the keys that are allowed', () => {
    const msg = problems('[backends.api]\ncommand = ["node"]\n\n[backends.api.restart]\nmax_restart = 5\n');
    expect(msg).toMatch(/^flow\.toml:5: backends\.api\.restart\.max_restart: unknown field \(allowed here: max_restarts, backoff_ms, stable_after_ms\)/);
    expect(problems('[backend.api]\ncommand = ["x"]\n')).toMatch(/^flow\.toml:1: backend: unknown field \(allowed here: version, backends, instances, tunnels, tools\)/);
  });

  it('a bad value inside an inline table or a dotted key is found on its line', () => {
    expect(problems('[backends.api]\ncommand = ["node"]\nenv = { PORT = 80 }\n')).toMatch(/^flow\.toml:3: backends\.api\.env\.PORT: expected a string value/);
    expect(problems('backends.api.command = ["node"]\nbackends.api.port = 0\n')).toMatch(/^flow\.toml:2: backends\.api\.port: /);
  });

  it('a bad name is refused with the rule for names', () => {
    expect(problems('[backends."Bad Name"]\ncommand = ["node"]\n')).toMatch(/^flow\.toml:1: backends\.Bad Name: a backend name is 1-63 lower-case/);
  });
});
