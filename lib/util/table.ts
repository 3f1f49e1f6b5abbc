// Tables of row objects as escaped HTML (notebooks, the report, the data preview) or aligned
// plain text (terminals): the one table renderer.
import { escapeHtml } from './html';

export interface TableOptions {
  /** Column order and selection (default: the keys of the first row). */
  columns?: string[];
  /** Escaped like every cell. */
  caption?: string;
  /** Longer cells are cut with an ellipsis, by whole code points (default 300 in HTML, 60 in text). */
  maxChars?: number;
  /** Rows beyond this are left out, with a note (default 50). */
  maxRows?: number;
}

/**
 * One cell as text: null/undefined empty, integers as is, other numbers to 4 significant digits
 * (0.8828, 0.00005), objects as JSON; cut to `maxChars` code points with "…" (never half an emoji).
 */
export function formatCell(value: unknown, maxChars = 300): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') {
    if (Number.isInteger(value) || !Number.isFinite(value)) return String(value);
    return String(Number(value.toPrecision(4)));
  }
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  if (text.length <= maxChars) return text; // UTF-16 length ≥ code points: nothing to cut
  const chars = Array.from(text);
  return chars.length <= maxChars ? text : chars.slice(0, maxChars - 1).join('') + '…';
}

function tableColumns(rows: Record<string, unknown>[], opts: TableOptions): string[] {
  return opts.columns ?? (rows.length > 0 ? Object.keys(rows[0]) : []);
}

/** An HTML table of the rows, every header, cell and the caption escaped; numbers right-aligned. */
export function htmlTable(rows: Record<string, unknown>[], opts: TableOptions = {}): string {
  const columns = tableColumns(rows, opts);
  const maxRows = opts.maxRows ?? 50;
  const shown = rows.slice(0, maxRows);
  const head = columns.map((c) => `<th style="text-align:left">${escapeHtml(c)}</th>`).join('');
  const body = shown
    .map((row) => {
      const cells = columns.map((c) => {
        const v = row[c];
        const align = typeof v === 'number' ? 'right' : 'left';
        return `<td style="text-align:${align}">${escapeHtml(formatCell(v, opts.maxChars))}</td>`;
      });
      return `<tr>${cells.join('')}</tr>`;
    })
    .join('\n');
  const caption = opts.caption ? `<caption>${escapeHtml(opts.caption)}</caption>` : '';
  const more = rows.length > shown.length ? `<p><i>… ${rows.length - shown.length} more rows not shown</i></p>` : '';
  return `<table class="qlora-table">${caption}<thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>${more}`;
}

/** The same table as aligned plain text, for the terminal. */
export function textTable(rows: Record<string, unknown>[], opts: TableOptions = {}): string {
  const columns = tableColumns(rows, opts);
  const maxRows = opts.maxRows ?? 50;
  const cells = rows.slice(0, maxRows).map((row) => columns.map((c) => formatCell(row[c], opts.maxChars ?? 60)));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
  const out = [line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)];
  if (opts.caption) out.unshift(opts.caption);
  if (rows.length > maxRows) out.push(`… ${rows.length - maxRows} more rows`);
  return out.join('\n');
}
