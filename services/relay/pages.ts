/** The HTML the relay answers with when it cannot forward: small, self-contained, no scripts. */

export const OFFLINE_REFRESH_SECONDS = 15;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function page(title: string, body: string, refresh: boolean): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
${refresh ? `<meta http-equiv="refresh" content="${OFFLINE_REFRESH_SECONDS}">\n` : ''}<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:15vh auto;padding:0 1rem;color:#222}h1{font-size:1.4rem}p{color:#555}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

/** 503: the handle exists but its machine has not been heard from; the page retries by itself. */
export function offlinePage(handle: string, lastSeenAgoMs: number | null): string {
  const seen = lastSeenAgoMs === null ? 'has not connected yet' : `was last seen ${Math.round(lastSeenAgoMs / 1000)} s ago`;
  return page(
    `${handle} is offline`,
    `<h1>${escapeHtml(handle)} is offline</h1>\n<p>The Flow behind this address ${seen}. This page refreshes itself every ${OFFLINE_REFRESH_SECONDS} seconds and will show it as soon as it is back.</p>`,
    true,
  );
}

export function unknownHandlePage(handle: string): string {
  return page('Unknown handle', `<h1>No one is registered as ${escapeHtml(handle)}</h1>\n<p>Check the address, or register this name with <code>f tunnel start --relay …</code>.</p>`, false);
}

export function badGatewayPage(handle: string, reason: string): string {
  return page(`${handle} did not answer`, `<h1>${escapeHtml(handle)} did not answer</h1>\n<p>The relay could not reach its tunnel: ${escapeHtml(reason)}.</p>`, false);
}
