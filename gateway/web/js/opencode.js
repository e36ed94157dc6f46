// Small helpers shared by the sidebar and the chat for the OpenCode API (seed 004's table).

/** `{instances:[...]}`, `{sessions:[...]}` or a bare array: the list either way. */
export function listOf(data, key) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data[key])) return data[key];
  return [];
}

/** The text of a message, whether the API gives `text` or opencode's `parts`. */
export function messageText(m) {
  if (typeof m.text === 'string') return m.text;
  if (Array.isArray(m.parts)) return m.parts.filter((p) => p.type === 'text').map((p) => p.text ?? '').join('');
  return '';
}

export function messageRole(m) {
  return m.role ?? m.info?.role ?? 'assistant';
}
