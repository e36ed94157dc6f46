import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Root, type Note } from './paths.js';

/** What a session's log says about it: its title, project and branch (seed 003). */
export interface SessionMeta {
  customTitle: string | null;
  slug: string | null;
  projectPath: string | null;
  description: string | null;
  gitBranch: string | null;
  created: string | null;
}

/** Only the head of a log is read: the fields sit in its first lines, and logs grow to megabytes. */
const HEAD_BYTES = 64 * 1024;
/** A sessions index lists a project's sessions: a few KB each. */
const INDEX_MAX_BYTES = 16 * 1024 * 1024;
export const METADATA_MAX_AGE_MS = 10_000;

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

export function parseSessionHead(text: string): SessionMeta {
  const meta: SessionMeta = { customTitle: null, slug: null, projectPath: null, description: null, gitBranch: null, created: null };
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let data: Record<string, unknown>;
    try {
      data = JSON.parse(line) as Record<string, unknown>;
    } catch {
      // The last line of the head is usually cut in the middle.
      continue;
    }
    if (data.type === 'custom-title' && str(data.customTitle)) meta.customTitle = str(data.customTitle);
    meta.slug ??= str(data.slug);
    meta.projectPath ??= str(data.cwd);
    meta.gitBranch ??= str(data.gitBranch);
    meta.created ??= str(data.timestamp);
    if (meta.customTitle && meta.slug && meta.projectPath) break;
  }
  return meta;
}

/**
 * Reads `<projects>/<project>/<session>.jsonl` heads and each project's sessions-index.json.
 * Only what is inside the projects directory is read (see Root): a project directory must be
 * one of its own, and a log or index that is a link out is skipped, with a note.
 */
export async function loadSessionMetadata(projectsDir: string, note?: Note): Promise<Map<string, SessionMeta>> {
  const out = new Map<string, SessionMeta>();
  const root = new Root(projectsDir, note);
  let projects;
  try {
    projects = await readdir(projectsDir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const p of projects) {
    const dir = join(projectsDir, p.name);
    if (!p.isDirectory()) {
      if (p.isSymbolicLink()) root.skip(dir, 'a project is a directory, not a link to one');
      continue;
    }
    for (const file of await readdir(dir).catch(() => [] as string[])) {
      if (!file.endsWith('.jsonl')) continue;
      const text = await root.read(join(dir, file), HEAD_BYTES, { head: true });
      if (text !== null) out.set(file.slice(0, -'.jsonl'.length), parseSessionHead(text));
    }
    // sessions-index.json adds what the log head lacks (description, branch, creation time).
    try {
      const text = await root.read(join(dir, 'sessions-index.json'), INDEX_MAX_BYTES);
      if (text === null) continue;
      const index = JSON.parse(text) as { entries?: Record<string, unknown>[] };
      for (const e of index.entries ?? []) {
        const m = out.get(String(e.sessionId));
        if (!m) continue;
        m.description = str(e.description) ?? m.description;
        m.gitBranch = str(e.gitBranch) ?? m.gitBranch;
        m.created = str(e.created) ?? m.created;
      }
    } catch {
      // No index in this project, or not one we can read.
    }
  }
  return out;
}

/**
 * Session metadata is costly (a file per session) and asked for on every board request, so it
 * is cached: refreshed on access when older than 10 s, with at most one refresh running at a
 * time; callers that arrive during a refresh share its result (seed 003's double-checked lock).
 */
export class MetadataCache {
  private data: Map<string, SessionMeta> = new Map();
  private refreshedAt = -Infinity;
  private inflight: Promise<Map<string, SessionMeta>> | null = null;
  /** How many refreshes have run (the tests and metrics read it). */
  refreshes = 0;

  constructor(
    private readonly projectsDir: string,
    private readonly maxAgeMs = METADATA_MAX_AGE_MS,
    private readonly now: () => number = Date.now,
    private readonly note?: Note,
  ) {}

  get(): Promise<Map<string, SessionMeta>> {
    if (this.now() - this.refreshedAt < this.maxAgeMs) return Promise.resolve(this.data);
    if (this.inflight) return this.inflight;
    this.refreshes++;
    this.inflight = loadSessionMetadata(this.projectsDir, this.note)
      .then((data) => {
        this.data = data;
        this.refreshedAt = this.now();
        return data;
      })
      .finally(() => {
        this.inflight = null;
      });
    return this.inflight;
  }
}
