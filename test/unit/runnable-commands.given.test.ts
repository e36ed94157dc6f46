import { describe, expect, it } from 'vitest';
import type { Command } from '../../actors/index.js';
import type { CommandMeta, CommandResult } from '../../services/host/commands.js';
import { InProcessCommandQueue } from '../../services/queue/in-process.js';

/**
 * Every command reaches a host through a queue, which checks it against the kinds' command
 * schemas first. A command word or environment variable no process can be given (a NUL byte;
 * "=" in a name) is refused there, naming the field, and no host sees it.
 */
function queue() {
  const seen: Command[] = [];
  const handler = {
    hostId: 'local',
    async dispatch(command: Command, _meta?: CommandMeta): Promise<CommandResult> {
      seen.push(command);
      return { ok: true, streamId: 'x', version: 1, status: 'running', position: 1 };
    },
  };
  return { q: new InProcessCommandQueue(handler), seen };
}

const create = (config: Record<string, unknown>) => ({ type: 'backend.create', name: 'web', config: { cwd: '/tmp', ...config }, autostart: true }) as unknown as Command;

describe('a command that asks to run something', () => {
  it('given a backend whose command and env a process can take, then the host gets it', async () => {
    const { q, seen } = queue();
    expect(await q.submit(create({ command: ['node', 'server.js', '--flag=a=b'], env: { NODE_ENV: 'production', 'odd.name-ok': 'a=b' } }))).toMatchObject({ ok: true });
    expect(seen).toHaveLength(1);
  });

  const refused: [string, Record<string, unknown>, string][] = [
    ['a NUL byte in a command word', { command: ['node', 'server\0.js'] }, 'config.command.1: a command word cannot contain a NUL byte'],
    ['a NUL byte in an env value', { command: ['node'], env: { A: 'x\0' } }, 'config.env.A: an environment variable value cannot contain a NUL byte'],
    ['"=" in an env name', { command: ['node'], env: { 'A=B': 'c' } }, 'config.env.A=B: an environment variable name is not empty and holds no "=" or NUL byte'],
    ['an empty env name', { command: ['node'], env: { '': 'c' } }, 'config.env.: an environment variable name is not empty'],
  ];
  for (const [what, config, message] of refused) {
    it(`given ${what}, then it is refused as invalid, naming the field, and no host sees it`, async () => {
      const { q, seen } = queue();
      const r = await q.submit(create(config));
      expect(r).toMatchObject({ ok: false, error: { code: 'invalid' } });
      expect((r as { error: { message: string } }).error.message).toContain(message);
      expect(seen).toEqual([]);
    });
  }

  it('given a tunnel command with a NUL byte, then it is refused the same way', async () => {
    const { q, seen } = queue();
    const r = await q.submit({ type: 'tunnel.start', name: 't', port: 8080, command: ['cloudflared\0'] } as unknown as Command);
    expect(r).toMatchObject({ ok: false, error: { code: 'invalid', message: expect.stringContaining('command.0: a command word cannot contain a NUL byte') } });
    expect(seen).toEqual([]);
  });
});
