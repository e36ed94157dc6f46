import { summary } from '../command-summaries.js';
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { api, apiBase } from '../client.js';
import { printJson, printTable } from '../output.js';
import { notRunningMessage } from '../not-running.js';

/**
 * `f instance`, `f session`, `f chat`, `f attention`: opencode instances, their sessions, a
 * streaming chat in the terminal, and the sessions waiting for you. Talks to the running
 * `f up` at FLOW_URL; shapes are those of /api/instances and /api/sessions.
 */
interface InstanceView {
  id: string;
  status: string;
  directory: string;
  port: number | null;
  pid: number | null;
  version: string | null;
  sessions: number;
  busy: number;
  needsAttention: number;
  lastError: string | null;
  health: 'healthy' | 'unhealthy' | null;
  restarts: number;
}

interface SessionView {
  id: string;
  instanceId: string;
  title: string;
  status: string;
  messages: number;
  cost: number;
  tokens: { input: number; output: number };
  updatedAt: string;
  lastError: { name: string; message: string } | null;
  permissions: { id: string; permission: string; detail: string | null; patterns: string[] }[];
  questions: { id: string; questions: { question: string; options: { label: string }[] }[] }[];
}

interface FeedMessage {
  type: string;
  sessionId: string;
  delta?: string;
  field?: string;
  role?: string;
  message?: { id: string; role: string; text: string; error: { name: string; message: string } | null; finish: string | null };
  session?: SessionView;
  part?: { id: string; type: string; tool?: { name: string; status: string; title: string | null } };
}

const enc = encodeURIComponent;
const WAIT_READY_MS = 90_000;

async function waitRunning(id: string): Promise<InstanceView> {
  const deadline = Date.now() + WAIT_READY_MS;
  for (;;) {
    const v = await api<InstanceView>('GET', `/api/instances/${enc(id)}`);
    if (v.status !== 'starting' || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Waited for, and it is not running: say why in words (its last error), and fail. */
function failedToStart(v: InstanceView): void {
  if (v.status === 'running') return;
  if (v.status === 'starting') throw new Error(`${v.id} is still starting after ${WAIT_READY_MS / 1000} s; "f instance ls" shows when it is running`);
  throw new Error(`${v.id} did not start: ${v.status === 'error' ? 'it failed' : `it is ${v.status}`}${v.lastError ? ` (${v.lastError.split('\n')[0]})` : ''}`);
}

function describeWaiting(s: SessionView): string[] {
  const lines: string[] = [];
  for (const p of s.permissions) lines.push(`permission ${p.id}: ${p.permission} ${p.detail ?? p.patterns.join(' ')}  →  f attention reply ${s.id} ${p.id} once|always|reject`);
  for (const q of s.questions) lines.push(`question ${q.id}: ${q.questions.map((x) => `${x.question} [${x.options.map((o) => o.label).join(' / ')}]`).join('; ')}  →  f attention answer ${s.id} ${q.id} <answer>`);
  return lines;
}

export function register(program: Command): void {
  const instance = program.command('instance').description(summary('instance'));

  instance
    .command('add <dir>')
    .description('start an opencode instance in a directory')
    .option('--id <id>', 'instance id (default: the directory name and a short suffix)')
    .option('--no-start', 'record it without starting it')
    .option('--no-wait', 'return at once instead of waiting until it is running')
    .option('--json', 'print JSON')
    .action(async (dir: string, opts: { id?: string; start: boolean; wait: boolean; json?: boolean }) => {
      const body: Record<string, unknown> = { directory: resolve(dir), start: opts.start };
      if (opts.id) body.id = opts.id;
      let v = await api<InstanceView>('POST', '/api/instances', body);
      if (opts.start && opts.wait) v = await waitRunning(v.id);
      if (opts.json) return printJson(v);
      if (opts.start && opts.wait) failedToStart(v);
      process.stdout.write(`${v.id}: ${v.status} in ${v.directory}${v.pid ? ` (pid ${v.pid}, port ${v.port})` : ''}\n`);
    });

  instance
    .command('ls')
    .description('list instances')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const { instances } = await api<{ instances: InstanceView[] }>('GET', '/api/instances');
      if (opts.json) return printJson(instances);
      printTable(
        instances.map((i) => ({ ...i, status: i.health === 'unhealthy' ? 'unhealthy' : i.status, attention: i.needsAttention, error: i.lastError?.split('\n')[0] ?? null })),
        ['id', 'status', 'directory', 'pid', 'port', 'sessions', 'busy', 'attention', 'restarts', 'error'],
      );
    });

  instance
    .command('start <id>')
    .description('start a stopped instance and wait until it is running')
    .option('--no-wait', 'return at once, while it is still starting')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { wait: boolean; json?: boolean }) => {
      let v = await api<InstanceView>('POST', `/api/instances/${enc(id)}/start`);
      if (opts.wait) v = await waitRunning(v.id);
      if (opts.json) return printJson(v);
      if (opts.wait) failedToStart(v);
      process.stdout.write(`${v.id}: ${v.status}${v.pid ? ` (pid ${v.pid}, port ${v.port})` : ''}\n`);
    });

  for (const [verb, method, path, what] of [
    ['stop', 'POST', 'stop', 'stop an instance (running turns are ended cleanly first)'],
    ['rm', 'DELETE', '', 'stop and remove an instance'],
  ] as const) {
    instance
      .command(`${verb} <id>`)
      .description(what)
      .option('--json', 'print JSON')
      .action(async (id: string, opts: { json?: boolean }) => {
        const v = await api<InstanceView>(method, `/api/instances/${enc(id)}${path ? `/${path}` : ''}`);
        if (opts.json) return printJson(v);
        process.stdout.write(`${v.id}: ${v.status}\n`);
      });
  }

  const session = program.command('session').description(summary('session'));
  session
    .command('ls <instance>')
    .description("list an instance's sessions (also while it is stopped)")
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const { sessions } = await api<{ sessions: SessionView[] }>('GET', `/api/instances/${enc(id)}/sessions`);
      if (opts.json) return printJson(sessions);
      printTable(
        sessions.map((s) => ({ ...s, tokens: `${s.tokens.input}/${s.tokens.output}` })),
        ['id', 'title', 'status', 'messages', 'tokens', 'cost', 'updatedAt'],
      );
    });
  session
    .command('new <instance>')
    .description('create a session')
    .option('--title <title>', 'session title')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { title?: string; json?: boolean }) => {
      const s = await api<SessionView>('POST', `/api/instances/${enc(id)}/sessions`, opts.title ? { title: opts.title } : {});
      if (opts.json) return printJson(s);
      process.stdout.write(`${s.id}\n`);
    });

  program
    .command('chat <session> <message...>')
    .description(summary('chat'))
    .option('--no-wait', 'send and return without waiting for the reply')
    .action(async (sessionId: string, words: string[], opts: { wait: boolean }) => {
      const text = words.join(' ');
      if (!text.trim()) throw new Error('the message is empty');
      if (!opts.wait) {
        await api('POST', `/api/sessions/${enc(sessionId)}/messages`, { text });
        return;
      }
      await api<SessionView>('GET', `/api/sessions/${enc(sessionId)}`);
      await chat(sessionId, text);
    });

  const attention = program.command('attention').description(summary('attention'));
  attention
    .command('ls', { isDefault: true })
    .description('list what waits for you, across all instances')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const { sessions } = await api<{ sessions: SessionView[] }>('GET', '/api/attention');
      if (opts.json) return printJson(sessions);
      if (sessions.length === 0) return void process.stdout.write('nothing waits for you\n');
      for (const s of sessions) {
        process.stdout.write(`${s.instanceId} / ${s.id} "${s.title}"\n`);
        for (const line of describeWaiting(s)) process.stdout.write(`  ${line}\n`);
      }
    });
  attention
    .command('reply <session> <permission> <reply>')
    .description('answer a permission request: once, always or reject')
    .action(async (sessionId: string, permissionId: string, reply: string) => {
      await api('POST', `/api/sessions/${enc(sessionId)}/permissions/${enc(permissionId)}`, { reply });
      process.stdout.write(`${permissionId}: ${reply}\n`);
    });
  attention
    .command('answer <session> <question> <answers...>')
    .description('answer a question (one answer per question asked; --reject to dismiss it)')
    .option('--reject', 'dismiss the question instead')
    .action(async (sessionId: string, questionId: string, answers: string[], opts: { reject?: boolean }) => {
      const body = opts.reject ? { reject: true } : { answers: answers.map((a) => [a]) };
      await api('POST', `/api/sessions/${enc(sessionId)}/questions/${enc(questionId)}`, body);
      process.stdout.write(`${questionId}: ${opts.reject ? 'rejected' : 'answered'}\n`);
    });
}

/**
 * Opens the session's feed first (so nothing of the reply is missed), sends the message, prints
 * text deltas as they come, and returns when the session is no longer busy after our turn.
 */
async function chat(sessionId: string, text: string): Promise<void> {
  const controller = new AbortController();
  let sent = false;
  let sawBusy = false;
  let atLineStart = true;
  let outcome: string | null = null;
  const shownWaiting = new Set<string>();
  const shownTools = new Set<string>();
  const write = (s: string) => {
    process.stdout.write(s);
    if (s.length) atLineStart = s.endsWith('\n');
  };
  const note = (s: string) => process.stderr.write(`${atLineStart ? '' : '\n'}${s}\n`);
  const onMessage = (_event: string, data: string) => {
    const m = JSON.parse(data) as FeedMessage;
    if (m.type === 'delta' && m.field === 'text' && sent) write(m.delta ?? '');
    // opencode repeats a tool part's state as it goes: each state is shown once.
    const tool = m.type === 'part' && m.part?.type === 'tool' ? m.part.tool : undefined;
    if (tool && ['running', 'completed', 'error'].includes(tool.status) && !shownTools.has(`${m.part!.id}:${tool.status}`)) {
      shownTools.add(`${m.part!.id}:${tool.status}`);
      note(`[tool ${tool.name}: ${tool.status}${tool.title ? ` ${tool.title}` : ''}]`);
    }
    if (m.type === 'message.completed' && m.message?.role === 'assistant' && m.message.error && m.message.error.name !== 'MessageAbortedError') {
      note(`error: ${m.message.error.message}`);
    }
    if (m.type === 'session' && m.session && sent) {
      const s = m.session;
      if (s.status === 'busy' || s.status === 'retry' || s.status === 'needs-attention') sawBusy = true;
      if (s.status === 'needs-attention') {
        for (const line of describeWaiting(s)) {
          if (!shownWaiting.has(line)) note(`waiting for you: ${line}`);
          shownWaiting.add(line);
        }
      }
      if (sawBusy && ['idle', 'error', 'interrupted'].includes(s.status)) {
        outcome = s.status;
        controller.abort();
      }
    }
  };
  const url = `${apiBase()}/api/sessions/${enc(sessionId)}/events`;
  const res = await fetch(url, { headers: { accept: 'text/event-stream' }, signal: controller.signal }).catch(() => {
    throw new Error(notRunningMessage(apiBase()));
  });
  if (!res.ok || !res.body) throw new Error(`${url}: ${res.status} ${res.statusText}`);
  // The feed is open (its headers are here): only now is the message sent, so nothing is missed.
  await api('POST', `/api/sessions/${enc(sessionId)}/messages`, { text });
  sent = true;
  const { createParser } = await import('eventsource-parser');
  const parser = createParser({ onEvent: (e) => onMessage(e.event ?? 'message', e.data) });
  const decoder = new TextDecoder();
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
  } catch (err) {
    if (!controller.signal.aborted) throw err;
  }
  if (!atLineStart) process.stdout.write('\n');
  if (outcome === 'error' || outcome === 'interrupted') {
    const s = await api<SessionView>('GET', `/api/sessions/${enc(sessionId)}`);
    throw new Error(`the turn ended ${outcome}${s.lastError ? `: ${s.lastError.message}` : ''}`);
  }
}
