/**
 * What `f --help` says of each top-level command, in its order: the command's summary (its
 * module's `.description()`) and its help term. commander derives the term from the options and
 * arguments the module registers; test/cli/command-list.test.ts checks the two agree. Data only,
 * so the modules can read their summaries here without importing the list that loads them.
 */
export const commandSummaries = {
  up: { term: 'up [options]', summary: 'run Flow in this process: the actor host and the gateway (Ctrl+C stops everything)' },
  host: { term: 'host [options]', summary: 'run an actor host only (distributed mode): it owns its processes, logs to its own SQLite, publishes to NATS and takes commands from Redis' },
  gateway: { term: 'gateway [options]', summary: 'run the gateway only (distributed mode): API, streams and dashboard, its read model fed from NATS JetStream' },
  auth: { term: 'auth', summary: 'the gateway password and this machine\'s login to it' },
  backend: { term: 'backend', summary: 'supervised backend processes (talks to the running "f up" at FLOW_URL)' },
  logs: { term: 'logs [options] [names...]', summary: 'output of backends, merged, each line after its backend\'s name (like pm2 logs); --follow streams new lines' },
  events: { term: 'events', summary: 'read, replay and rebuild the event log ($FLOW_HOME/flow.db; works without f up)' },
  tunnel: { term: 'tunnel', summary: 'public URLs for local ports via cloudflared quick tunnels (talks to the running "f up" at FLOW_URL)' },
  relay: { term: 'relay [options]', summary: 'run a relay: <user>.<domain>, <domain>/<user> and <user>.my.<domain> forward to registered tunnels' },
  instance: { term: 'instance', summary: 'opencode instances: one `opencode serve` per working directory' },
  session: { term: 'session', summary: 'sessions of an opencode instance' },
  chat: { term: 'chat [options] <session> <message...>', summary: 'send a message and stream the reply to the terminal as it arrives' },
  attention: { term: 'attention', summary: 'sessions waiting for you: a permission to grant or a question to answer' },
  install: { term: 'install [options] <tool>', summary: 'install a tool: an existing directory or flow-tool.toml links it, cli_<ulid> fetches it from the catalog, anything else is a package (registry, parm, flox); --backend makes a word a package even where a directory of that name exists' },
  cli: { term: 'cli [id] [args...]', summary: 'run an installed or dev-root tool: f cli <id> [-- args...]; everything after -- reaches the tool untouched' },
  catalog: { term: 'catalog', summary: 'remote CLI catalogs' },
  ai: { term: 'ai', summary: 'AI helpers' },
  apply: { term: 'apply [options] [file]', summary: 'make the running Flow match a flow.toml (default: ./flow.toml): shows the plan (create / change / remove), then carries it out' },
  status: { term: 'status [options]', summary: 'is Flow running for this FLOW_HOME? pid, URL, uptime, mode' },
  down: { term: 'down [options]', summary: 'stop the running Flow (SIGTERM: it stops every child first); SIGKILL if it has not stopped after --timeout' },
  service: { term: 'service', summary: 'run Flow as a service of your login: a systemd user unit (Linux) or a launchd agent (macOS)' },
} as const satisfies Record<string, { term: string; summary: string }>;

export type CommandName = keyof typeof commandSummaries;

export const isCommandName = (name: string | undefined): name is CommandName => name !== undefined && Object.hasOwn(commandSummaries, name);

/** The one-line description of a top-level command, for its module's `.description()`. */
export const summary = (name: CommandName): string => commandSummaries[name].summary;
