// Model output and user text become Markdown HTML only through DOMPurify: raw HTML in the text is escaped by the
// renderer first, and whatever HTML results is sanitised before it touches the DOM.
import { Marked, type Tokens } from 'marked';
import DOMPurify from 'dompurify';
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import csharp from 'highlight.js/lib/languages/csharp';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import python from 'highlight.js/lib/languages/python';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';

hljs.registerLanguage('bash', bash);
hljs.registerLanguage('csharp', csharp);
hljs.registerLanguage('javascript', javascript);
hljs.registerLanguage('json', json);
hljs.registerLanguage('python', python);
hljs.registerLanguage('sql', sql);
hljs.registerLanguage('typescript', typescript);
hljs.registerLanguage('xml', xml);

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const marked = new Marked({
  gfm: true,
  breaks: true,
  async: false,
  renderer: {
    // Raw HTML in a message is shown as text, never interpreted.
    html({ text }: Tokens.HTML | Tokens.Tag): string {
      return escapeHtml(text);
    },
    code({ text, lang }: Tokens.Code): string {
      const language = (lang ?? '').trim().split(/\s+/)[0]?.toLowerCase() ?? '';
      const known = language.length > 0 && hljs.getLanguage(language) !== undefined;
      const body = known ? hljs.highlight(text, { language, ignoreIllegals: true }).value : escapeHtml(text);
      const label = known ? language : language.length > 0 ? escapeHtml(language) : 'text';
      return `<div class="code"><div class="code-bar"><span>${label}</span><button type="button" class="copy" data-copy>Copy</button></div><pre><code class="hljs">${body}</code></pre></div>`;
    },
  },
});

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer nofollow');
  }
});

const purifyConfig = {
  ALLOWED_TAGS: ['a', 'b', 'blockquote', 'br', 'button', 'code', 'del', 'div', 'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6',
    'hr', 'i', 'li', 'ol', 'p', 'pre', 'span', 'strong', 'table', 'tbody', 'td', 'th', 'thead', 'tr', 'ul', 'input'],
  ALLOWED_ATTR: ['href', 'title', 'class', 'type', 'data-copy', 'checked', 'disabled', 'align'],
  ALLOW_DATA_ATTR: false,
};

/** Markdown to sanitised HTML, as a fragment ready to insert. */
export function renderMarkdown(text: string): DocumentFragment {
  const html = marked.parse(text) as string;
  return DOMPurify.sanitize(html, { ...purifyConfig, RETURN_DOM_FRAGMENT: true });
}

/** One listener for every copy button of a container. */
export function enableCopyButtons(container: HTMLElement): void {
  container.addEventListener('click', (event) => {
    const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-copy]');
    if (!button) return;
    const code = button.closest('.code')?.querySelector('code')?.textContent ?? '';
    const done = (label: string) => {
      button.textContent = label;
      window.setTimeout(() => (button.textContent = 'Copy'), 1500);
    };
    if (navigator.clipboard) {
      navigator.clipboard.writeText(code).then(() => done('Copied'), () => done('Copy failed'));
    } else {
      done('Copy failed');
    }
  });
}
