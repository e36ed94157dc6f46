// A few DOM helpers instead of a UI framework: the dashboard has no build step and no
// third-party code to serve, and every page is a handful of lists that re-render on events.

/** h('div.card', {onclick, 'data-x': 1}, child, [children], 'text') → an element. */
export function h(tag, props, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name || 'div');
  if (classes.length) el.className = classes.join(' ');
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = [el.className, value].filter(Boolean).join(' ');
    else if (key === 'style' && typeof value === 'object') Object.assign(el.style, value);
    else if (key in el && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces an element's children. */
export function render(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Status words → dot colour (seed 004: green running, yellow starting, red error, gray stopped). */
const DOT_COLOURS = {
  green: ['running', 'ready', 'idle', 'connected', 'installed', 'active', 'completed', 'live'],
  yellow: ['starting', 'restarting', 'backoff', 'stopping', 'removing', 'busy', 'retry', 'installing', 'downloading', 'reconnecting', 'pending', 'in_progress', 'connecting'],
  red: ['failed', 'error', 'crashed', 'needs-attention', 'unhealthy'],
};

export function dotColour(status) {
  for (const [colour, words] of Object.entries(DOT_COLOURS)) if (words.includes(status)) return colour;
  return 'gray';
}

export function dot(status) {
  const colour = dotColour(status);
  const moving = colour === 'yellow';
  return h(`span.dot.${colour}${moving ? '.pulse' : ''}`, { title: status, 'data-dot': status });
}

export function statusBadge(status) {
  return h('span.status', { 'data-status': status }, dot(status), status);
}

/** "3 s ago", "5 min ago": a relative time for people; the absolute one is in the title. */
export function ago(iso) {
  if (!iso) return '—';
  const ms = Date.now() - Date.parse(iso);
  if (!Number.isFinite(ms)) return '—';
  const s = Math.round(ms / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function timeOf(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], { hour12: false });
}

/**
 * Many events, one fetch: the returned function asks for fn (an async re-read) to run; asks that
 * come while it runs fold into one more run after it, so a burst of events costs at most two
 * reads and a slow server is never asked faster than it answers.
 */
export function coalesce(fn) {
  let state = 'idle'; // → 'scheduled' → 'running' (→ 'dirty' if asked meanwhile) → 'idle'
  const start = () => {
    state = 'scheduled';
    requestAnimationFrame(async () => {
      state = 'running';
      try {
        await fn();
      } finally {
        const again = state === 'dirty';
        state = 'idle';
        if (again) start();
      }
    });
  };
  return () => {
    if (state === 'idle') start();
    else if (state === 'running') state = 'dirty';
  };
}

/** 'Run `f up` here' → ['Run ', <code>f up</code>, ' here']: UI text that names commands. */
export function withCode(text) {
  return text.split('`').map((part, i) => (i % 2 ? h('code', {}, part) : part));
}

export function pageHead(title, sub, ...actions) {
  return h('div.page-head', {}, h('div', {}, h('h1', {}, title), sub ? h('div.sub', {}, sub) : null), h('div.btns', {}, ...actions));
}
