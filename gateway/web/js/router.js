// Hash routes (#/backends, #/timeline/backend-child:api?v=3): the gateway serves one page, and
// a reload or a shared link lands on the same view.

const routes = [];

/** pattern: '/backends/:name'; mount(el, params, query) → a cleanup function (or nothing). */
export function route(pattern, mount) {
  const names = [];
  const re = new RegExp(
    '^' +
      pattern.replace(/:([a-zA-Z]+)/g, (_m, name) => {
        names.push(name);
        return '([^/]+)';
      }) +
      '$',
  );
  routes.push({ re, names, mount, pattern });
}

export function parseHash() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = hash.split('?');
  return { path, query: new URLSearchParams(qs ?? '') };
}

export function navigate(path) {
  if (location.hash !== `#${path}`) location.hash = path;
}

/** Mounts the page for the current hash into `outlet`, unmounting the previous one. */
export function startRouter(outlet, { fallback, onChange }) {
  let cleanup = null;
  let current = null;
  const show = () => {
    const { path, query } = parseHash();
    // Changing only the query (e.g. ?v= on the timeline) is the page's business, not a remount.
    if (current && current.path === path && current.page.onQuery) {
      current.page.onQuery(query);
      onChange?.(path);
      return;
    }
    for (const r of routes) {
      const m = r.re.exec(path);
      if (!m) continue;
      const params = Object.fromEntries(r.names.map((n, i) => [n, decodeURIComponent(m[i + 1])]));
      if (typeof cleanup === 'function') cleanup();
      outlet.replaceChildren();
      outlet.scrollTop = 0;
      const page = r.mount(outlet, params, query) ?? {};
      cleanup = typeof page === 'function' ? page : page.cleanup;
      current = { path, page: typeof page === 'function' ? {} : page };
      onChange?.(path);
      return;
    }
    navigate(fallback);
  };
  addEventListener('hashchange', show);
  show();
  return () => {
    removeEventListener('hashchange', show);
    if (typeof cleanup === 'function') cleanup();
  };
}
