import { Marked } from '/vendor/marked.js';
import DOMPurify from '/vendor/purify.js';
import hljs from '/vendor/highlight.js';
import bash from '/vendor/hljs/bash.js';
import css from '/vendor/hljs/css.js';
import diff from '/vendor/hljs/diff.js';
import go from '/vendor/hljs/go.js';
import ini from '/vendor/hljs/ini.js';
import javascript from '/vendor/hljs/javascript.js';
import json from '/vendor/hljs/json.js';
import markdown from '/vendor/hljs/markdown.js';
import python from '/vendor/hljs/python.js';
import rust from '/vendor/hljs/rust.js';
import shell from '/vendor/hljs/shell.js';
import sql from '/vendor/hljs/sql.js';
import typescript from '/vendor/hljs/typescript.js';
import xml from '/vendor/hljs/xml.js';
import yaml from '/vendor/hljs/yaml.js';

/**
 * Markdown for the chat, as opencode's web UI shows it: marked parses, DOMPurify sanitizes what
 * it made (a reply is text from a model and whatever it read: never trusted), highlight.js
 * colours code blocks. Links open in a new tab and only with http(s)/mailto targets.
 */
const languages = { bash, css, diff, go, ini, javascript, json, markdown, python, rust, shell, sql, typescript, xml, yaml };
for (const [name, lang] of Object.entries(languages)) hljs.registerLanguage(name, lang);
for (const [alias, name] of Object.entries({ js: 'javascript', ts: 'typescript', tsx: 'typescript', jsx: 'javascript', sh: 'bash', zsh: 'bash', html: 'xml', py: 'python', yml: 'yaml', toml: 'ini', md: 'markdown', patch: 'diff' })) {
  hljs.registerAliases(alias, { languageName: name });
}

const marked = new Marked({ gfm: true, breaks: false });

const purify = DOMPurify(window);
purify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    const href = node.getAttribute('href') ?? '';
    if (!/^(https?:|mailto:|#)/i.test(href)) node.removeAttribute('href');
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer');
  }
});

const SANITIZE = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select', 'iframe', 'object', 'embed'],
  FORBID_ATTR: ['style'],
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#)/i,
};

/** The markdown `text` as a sanitized fragment, its code blocks highlighted. */
export function renderMarkdown(text) {
  const html = marked.parse(text ?? '', { async: false });
  const fragment = purify.sanitize(html, { ...SANITIZE, RETURN_DOM_FRAGMENT: true });
  for (const code of fragment.querySelectorAll('pre code')) highlight(code);
  // What the sanitizer emptied (a paragraph that held only an <img onerror>) leaves no gap.
  for (const p of fragment.querySelectorAll('p')) if (!p.textContent.trim() && !p.querySelector('img, br')) p.remove();
  return fragment;
}

function highlight(code) {
  const lang = /language-([\w-]+)/.exec(code.className)?.[1];
  const source = code.textContent;
  let result;
  try {
    result = lang && hljs.getLanguage(lang) ? hljs.highlight(source, { language: lang, ignoreIllegals: true }) : hljs.highlightAuto(source);
  } catch {
    return;
  }
  // highlight.js escapes the source it is given; its output is sanitized once more all the same.
  code.replaceChildren(purify.sanitize(result.value, { ALLOWED_TAGS: ['span'], ALLOWED_ATTR: ['class'], RETURN_DOM_FRAGMENT: true }));
  code.classList.add('hljs');
}
