import { describe, expect, it } from 'vitest';
import { backendChildKind } from '../../actors/backend-child/index.js';
import { opencodeInstanceKind } from '../../actors/opencode-instance/index.js';
import { tunnelKind } from '../../actors/tunnel/index.js';
import { given } from '../support/given.js';

const config = { command: ['node', 'server.js'], cwd: '/srv/api', env: {}, port: null, watch: [], watchExtensions: ['.ts'], stopGraceMs: 5000 };
const running = [
  { type: 'backend.create', name: 'api', config, autostart: true },
  { type: 'PROCESS_STARTED', pid: 100, startTicks: 1, spawnId: null },
];

describe('the host judges a request; the simulated host judges it the same way', () => {
  it('given a running backend, when it is started, then it is refused: "api is already running"', () => {
    given(backendChildKind, running).when({ type: 'backend.start', name: 'api' }).thenRejected('api is already running');
  });

  it('given a running backend, when it is stopped, then it kills its process and is stopping; a second stop is refused', () => {
    const host = given(backendChildKind, running).when({ type: 'backend.stop', name: 'api' }).then({ state: 'stopping', effects: ['killProcess'] });
    expect(host.log.map((e) => e.type)).toEqual(['CREATED', 'PROCESS_STARTED', 'STOP_REQUESTED']);
  });

  it('given a stopped backend, when it is stopped, then "api is already stopped" and nothing is written', () => {
    const g = given(backendChildKind, [{ type: 'backend.create', name: 'api', config, autostart: false }]);
    g.when({ type: 'backend.stop', name: 'api' }).thenRejected('api is already stopped');
    expect(g.host.log.map((e) => e.type)).toEqual(['CREATED']);
  });

  it('given a backend, when one of the same name is created, then "backend api already exists (it is running)"', () => {
    given(backendChildKind, running).when({ type: 'backend.create', name: 'api', config, autostart: true }).thenRejected('backend api already exists (it is running)');
  });

  it('given a connected tunnel, when it is started again, then "web is already running"', () => {
    given(tunnelKind, [
      { type: 'tunnel.start', name: 'web', port: 3456 },
      { type: 'PROCESS_STARTED', pid: 7, startTicks: 1, spawnId: null },
      { type: 'URL_ANNOUNCED', pid: 7, url: 'https://a-b-c.trycloudflare.com' },
    ])
      .when({ type: 'tunnel.start', name: 'web', port: 3456 })
      .thenRejected('web is already running');
  });

  it('given a stopped instance, when it is stopped, then "alpha is already stopped"', () => {
    given(opencodeInstanceKind, [{ type: 'opencode.create', id: 'alpha', directory: '/tmp', autostart: false, startTimeoutMs: 1000 }])
      .when({ type: 'opencode.stop', id: 'alpha' })
      .thenRejected('alpha is already stopped');
  });

  it('given a crashed backend in backoff, when the delay passes on the simulated clock, then it spawns again', () => {
    given(backendChildKind, [...running, { type: 'PROCESS_EXITED', pid: 100, code: 1, signal: null, cause: 'exit' }])
      .after(1000)
      .when({ type: 'PROCESS_STARTED', pid: 101, startTicks: 2, spawnId: null })
      .then({ state: 'running', context: { restarts: 1, run: { pid: 101 } } });
  });
});
