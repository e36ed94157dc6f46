import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ManifestError } from '../../services/tool-install/errors.js';
import { loadManifest, parseManifestText } from '../../services/tool-install/manifest.js';
import { parseInstallIdArg } from '../../services/tool-install/catalog.js';
import { classifyInstallArg, isPathArg } from '../../services/tool-install/install.js';
import { FIXTURES } from './helpers.js';

const GOOD = `version = 1
id = "codex-session-browser"
language = "go"
binary_name = "codex-session-browser"
description = "Browse Codex sessions for a repo and print the selected session ID."
[exec]
run = ["go", "run", "."]
`;

function problems(text: string): string {
  try {
    parseManifestText(text, '/tools/x/flow-tool.toml');
  } catch (err) {
    expect(err).toBeInstanceOf(ManifestError);
    return (err as Error).message;
  }
  throw new Error('expected the manifest to be refused');
}

describe('flow-tool.toml', () => {
  it('accepts the seed’s manifest and the later fields (aliases, min_flow_version, [exec].build, [install])', () => {
    const m = parseManifestText(GOOD + 'build = ["go", "build", "-o", "{out}", "."]\nenv = { A = "1" }\n', 'x');
    expect(m).toMatchObject({ id: 'codex-session-browser', aliases: [], exec: { run: ['go', 'run', '.'], build: ['go', 'build', '-o', '{out}', '.'], env: { A: '1' } } });
    const later = parseManifestText(GOOD.replace('[exec]', 'aliases = ["csb"]\nmin_flow_version = "0.1.0"\n[install]\nversion = "1.2.3"\n[exec]'), 'x');
    expect(later.aliases).toEqual(['csb']);
    expect(later.install?.version).toBe('1.2.3');
    expect(loadManifest(join(FIXTURES, 'echo-args/flow-tool.toml')).manifest.id).toBe('echo-args');
  });

  it('names the file, the field and what was expected', () => {
    const msg = problems(GOOD.replace('binary_name = "codex-session-browser"\n', '').replace('language = "go"', 'language = 3'));
    expect(msg).toMatch(/^\/tools\/x\/flow-tool\.toml: /);
    expect(msg).toMatch(/language: expected a string such as "go".*\(got number 3\)/);
    expect(msg).toMatch(/binary_name: .*\(it is missing\)/);
  });

  it.each([
    ['version = 2', /version: expected version = 1/],
    ['run = "go run ."', /exec\.run: expected an array of strings.*got string/],
    ['run = []', /exec\.run: expected at least one word/],
    ['id = "../../etc"', /id: a tool id is 1-64 lower-case letters/],
    ['id = "a/b"', /id: a tool id is/],
    ['id = "list"', /id: must not be one of f cli's own commands/],
    ['min_flow_version = "99.0.0"', /min_flow_version: needs Flow 99\.0\.0 or newer/],
    ['output = "../x"', /exec\.output: expected a path inside the tool root/],
  ])('refuses %s', (line, pattern) => {
    const key = line.split(' = ')[0]!;
    const text = ['run', 'output'].includes(key)
      ? GOOD.replace('run = ["go", "run", "."]', key === 'run' ? line : `run = ["go"]\nbuild = ["go"]\n${line}`)
      : GOOD.replace(new RegExp(`^${key} = .*$`, 'm'), line).replace(/^(\[exec\])/m, key === 'min_flow_version' ? `${line}\n$1` : '$1');
    expect(problems(text)).toMatch(pattern);
  });

  it('says when the file is not TOML at all', () => {
    expect(problems('id = = "x"')).toMatch(/flow-tool\.toml: not valid TOML/);
  });
});

describe('f install <tool>: pre-backend dispatch', () => {
  it('an explicit path form or an existing directory links; --backend picks the package; cli_/cli: ids are remote; anything else is a package', () => {
    expect(['./x', '../x', '/x', '~/x', '.', 'x/flow-tool.toml', 'flow-tool.toml'].every(isPathArg)).toBe(true);
    expect(['rise', 'owner/repo', 'cli_01jv8n0000000000000000000a'].some(isPathArg)).toBe(false);
    expect(classifyInstallArg('cli:01JV8N0000000000000000000A')).toEqual({ kind: 'remote', installId: 'cli_01jv8n0000000000000000000a' });
    expect(classifyInstallArg('rise', { cwd: FIXTURES })).toEqual({ kind: 'package', name: 'rise', localDirHint: null });
    expect(classifyInstallArg('echo-sh', { cwd: FIXTURES })).toEqual({ kind: 'link', path: join(FIXTURES, 'echo-sh'), alsoPackage: 'echo-sh' });
    expect(classifyInstallArg('./echo-sh', { cwd: FIXTURES })).toEqual({ kind: 'link', path: join(FIXTURES, 'echo-sh'), alsoPackage: null });
    expect(classifyInstallArg('echo-sh', { cwd: FIXTURES, backend: 'auto' })).toEqual({ kind: 'package', name: 'echo-sh', localDirHint: join(FIXTURES, 'echo-sh') });
    expect(classifyInstallArg('echo-sh', { cwd: FIXTURES, link: true })).toEqual({ kind: 'link', path: join(FIXTURES, 'echo-sh'), alsoPackage: null });
    expect(classifyInstallArg('echo-sh/main.sh', { cwd: FIXTURES })).toEqual({ kind: 'package', name: 'echo-sh/main.sh', localDirHint: join(FIXTURES, 'echo-sh/main.sh') });
  });

  it('install ids are cli_ or cli: and a 26-character ULID', () => {
    expect(parseInstallIdArg('cli_01jv8n0000000000000000000a')).toBe('cli_01jv8n0000000000000000000a');
    expect(parseInstallIdArg('cli_01jv8n')).toBeNull();
    expect(parseInstallIdArg('cli_01jv8n000000000000000000u')).toBeNull();
    expect(parseInstallIdArg('01jv8n0000000000000000000a')).toBeNull();
  });
});
