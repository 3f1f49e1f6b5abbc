// escapeHtml: the five characters HTML gives meaning to, in text and in quoted attributes.
import { escapeHtml } from '../../lib/util/html';

test('escapes & < > " and \'', () => {
  expect(escapeHtml(`<a href="x">&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;');
  expect(escapeHtml('&amp;')).toBe('&amp;amp;'); // escaping twice shows the entity, as it should
  expect(escapeHtml('plain text, é')).toBe('plain text, é');
});
