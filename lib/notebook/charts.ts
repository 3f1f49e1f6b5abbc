// Plotly figure specs and small HTML/text renderers for the notebook and its report.
//
// Everything here is pure: plain data in, a plotly `{ data, layout }` object or a string out. No
// tslab, no DOM, no file access, so the figures can be unit-tested in jest and built in plain
// Node. `display.ts` is what puts them on screen (a live notebook output or the terminal).
import { escapeHtml } from '../util/html';

/** One plotly trace. Only the fields we use are typed; plotly accepts many more. */
export interface PlotlyTrace {
  type: 'scatter' | 'bar' | 'heatmap';
  name?: string;
  x?: Array<number | string>;
  y?: Array<number | string | null>;
  z?: number[][];
  yaxis?: 'y' | 'y2';
  [key: string]: unknown;
}

export interface PlotlyFigure {
  data: PlotlyTrace[];
  layout: Record<string, any>;
  config?: Record<string, unknown>;
}

const COLORS = {
  blue: '#1f77b4',
  orange: '#ff7f0e',
  green: '#2ca02c',
  red: '#d62728',
  purple: '#9467bd',
  grey: '#7f7f7f',
};

const BASE_LAYOUT = {
  height: 380,
  margin: { l: 70, r: 70, t: 50, b: 50 },
  legend: { orientation: 'h', x: 0, y: -0.18 },
  hovermode: 'x unified',
};

// ---------------------------------------------------------------------------------------------
// Training loss
// ---------------------------------------------------------------------------------------------

/** One optimizer step (the Trainer's step events have these fields). */
export interface TrainingPoint {
  step: number;
  loss: number;
  /** The learning rate used for this step (plotted on the right axis when present). */
  lr?: number;
}

/**
 * Exponential moving average with TensorBoard's debiasing: s_t = w·s_{t-1} + (1-w)·x_t from
 * s_0 = 0, reported as s_t / (1 - w^t), so the first points are not pulled towards zero.
 * Non-finite values (a NaN loss) give null and do not disturb the average.
 */
export function exponentialSmoothing(values: number[], weight = 0.9): Array<number | null> {
  if (!(weight >= 0 && weight < 1)) {
    throw new Error(`exponentialSmoothing: weight must be in [0, 1), got ${weight}`);
  }
  const out: Array<number | null> = [];
  let average = 0;
  let count = 0;
  for (const v of values) {
    if (!Number.isFinite(v)) {
      out.push(null);
      continue;
    }
    average = weight * average + (1 - weight) * v;
    count += 1;
    out.push(average / (1 - Math.pow(weight, count)));
  }
  return out;
}

/** Loss per step (raw and smoothed) with the learning rate on a second y axis. */
export function trainingLossFigure(
  points: TrainingPoint[],
  opts: { smoothing?: number; title?: string } = {},
): PlotlyFigure {
  const steps = points.map((p) => p.step);
  const losses = points.map((p) => p.loss);
  const data: PlotlyTrace[] = [
    {
      type: 'scatter',
      mode: 'lines',
      name: 'loss',
      x: steps,
      y: losses.map((v) => (Number.isFinite(v) ? v : null)),
      line: { color: COLORS.blue, width: 1 },
      opacity: 0.35,
    },
    {
      type: 'scatter',
      mode: 'lines',
      name: 'loss (smoothed)',
      x: steps,
      y: exponentialSmoothing(losses, opts.smoothing ?? 0.9),
      line: { color: COLORS.blue, width: 2.5 },
    },
  ];
  const layout: Record<string, any> = {
    ...BASE_LAYOUT,
    title: { text: opts.title ?? 'Training loss' },
    xaxis: { title: { text: 'step' } },
    yaxis: { title: { text: 'cross-entropy loss' }, rangemode: 'tozero' },
  };
  const withRate = points.filter((p) => p.lr !== undefined);
  if (withRate.length > 0) {
    data.push({
      type: 'scatter',
      mode: 'lines',
      name: 'learning rate',
      x: withRate.map((p) => p.step),
      y: withRate.map((p) => p.lr as number),
      yaxis: 'y2',
      line: { color: COLORS.orange, width: 1.5, dash: 'dot' },
    });
    layout.yaxis2 = {
      title: { text: 'learning rate' },
      overlaying: 'y',
      side: 'right',
      rangemode: 'tozero',
      showgrid: false,
      tickmode: 'auto', // not aligned to the loss axis' grid: round learning rates read better
      nticks: 6,
      exponentformat: 'e',
    };
  }
  return { data, layout };
}

// ---------------------------------------------------------------------------------------------
// Validation loss and accuracy
// ---------------------------------------------------------------------------------------------

/** One evaluation (the Trainer's evaluation events have these fields). */
export interface EvalPoint {
  step: number;
  loss: number;
  accuracy: number;
  f1?: number;
}

/** Validation loss (left axis) and accuracy / F1 in [0, 1] (right axis) at each evaluation. */
export function validationFigure(points: EvalPoint[], opts: { title?: string } = {}): PlotlyFigure {
  const steps = points.map((p) => p.step);
  const data: PlotlyTrace[] = [
    {
      type: 'scatter',
      mode: 'lines+markers',
      name: 'validation loss',
      x: steps,
      y: points.map((p) => p.loss),
      line: { color: COLORS.blue },
    },
    {
      type: 'scatter',
      mode: 'lines+markers',
      name: 'accuracy',
      x: steps,
      y: points.map((p) => p.accuracy),
      yaxis: 'y2',
      line: { color: COLORS.green },
    },
  ];
  const withF1 = points.filter((p) => p.f1 !== undefined);
  if (withF1.length > 0) {
    data.push({
      type: 'scatter',
      mode: 'lines+markers',
      name: 'F1',
      x: withF1.map((p) => p.step),
      y: withF1.map((p) => p.f1 as number),
      yaxis: 'y2',
      line: { color: COLORS.purple, dash: 'dash' },
    });
  }
  const layout = {
    ...BASE_LAYOUT,
    title: { text: opts.title ?? 'Validation' },
    xaxis: { title: { text: 'step' } },
    yaxis: { title: { text: 'loss' }, rangemode: 'tozero' },
    yaxis2: {
      title: { text: 'accuracy / F1' },
      overlaying: 'y',
      side: 'right',
      range: [0, 1.02],
      tickmode: 'linear',
      tick0: 0,
      dtick: 0.2,
      showgrid: false,
    },
  };
  return { data, layout };
}

// ---------------------------------------------------------------------------------------------
// Confusion matrix
// ---------------------------------------------------------------------------------------------

/**
 * Heatmap of a confusion matrix: `counts[actual][predicted]`, row 0 at the top (as sklearn
 * prints it), each cell annotated with its count and its share of all examples.
 */
export function confusionMatrixFigure(
  counts: number[][],
  labels: string[],
  opts: { title?: string } = {},
): PlotlyFigure {
  const n = labels.length;
  if (counts.length !== n || counts.some((row) => row.length !== n)) {
    throw new Error(
      `confusionMatrixFigure: counts must be ${n}×${n} (one row and column per label: ${labels.join(', ')}), ` +
        `got ${counts.length}×${counts[0]?.length ?? 0}`,
    );
  }
  if (counts.some((row) => row.some((c) => !Number.isInteger(c) || c < 0))) {
    throw new Error('confusionMatrixFigure: counts must be non-negative integers');
  }
  const total = counts.reduce((s, row) => s + row.reduce((a, b) => a + b, 0), 0);
  const max = Math.max(1, ...counts.map((row) => Math.max(...row)));
  const annotations: Record<string, unknown>[] = [];
  counts.forEach((row, actual) =>
    row.forEach((count, predicted) => {
      const share = total > 0 ? ((100 * count) / total).toFixed(1) : '0.0';
      annotations.push({
        x: labels[predicted],
        y: labels[actual],
        text: `${count}<br>(${share}%)`,
        showarrow: false,
        // White text on the dark end of the colour scale.
        font: { size: 14, color: count > max / 2 ? 'white' : 'black' },
      });
    }),
  );
  return {
    data: [
      {
        type: 'heatmap',
        name: 'count',
        x: labels,
        y: labels,
        z: counts.map((row) => [...row]),
        colorscale: 'Blues',
        reversescale: true, // plotly's 'Blues' runs dark → light; more examples should be darker
        showscale: true,
        hovertemplate: 'actual %{y}<br>predicted %{x}<br>count %{z}<extra></extra>',
      },
    ],
    layout: {
      ...BASE_LAYOUT,
      height: 360,
      hovermode: 'closest',
      title: { text: opts.title ?? `Confusion matrix (${total} examples)` },
      xaxis: { title: { text: 'predicted' }, type: 'category' },
      yaxis: { title: { text: 'actual' }, type: 'category', autorange: 'reversed' },
      annotations,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Token lengths
// ---------------------------------------------------------------------------------------------

export interface Histogram {
  /** Bin i covers [binStarts[i], binStarts[i] + binWidth). */
  binStarts: number[];
  counts: number[];
  binWidth: number;
}

/** A round bin width (1, 2 or 5 × 10^k) giving at most about `targetBins` bins up to `max`. */
export function niceBinWidth(max: number, targetBins = 40): number {
  if (!(max > 0)) return 1;
  const raw = max / targetBins;
  const magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) {
    if (m * magnitude >= raw) return Math.max(1, m * magnitude);
  }
  return Math.max(1, 10 * magnitude);
}

/** The largest value, 0 for none (a loop: spreading 50,000 values into Math.max can overflow the stack). */
function maxOf(values: number[]): number {
  let max = 0;
  for (const v of values) if (v > max) max = v;
  return max;
}

/** Counts values into bins [k·w, (k+1)·w) from 0 up to the largest value. Values must be ≥ 0. */
export function histogramBins(values: number[], binWidth: number): Histogram {
  if (!(binWidth > 0)) throw new Error(`histogramBins: binWidth must be > 0, got ${binWidth}`);
  const bad = values.find((v) => !Number.isFinite(v) || v < 0);
  if (bad !== undefined) throw new Error(`histogramBins: values must be finite and ≥ 0, got ${bad}`);
  const max = maxOf(values);
  const numBins = Math.floor(max / binWidth) + 1;
  const counts = new Array<number>(numBins).fill(0);
  for (const v of values) counts[Math.floor(v / binWidth)] += 1;
  const binStarts = counts.map((_, i) => i * binWidth);
  return { binStarts, counts, binWidth };
}

/**
 * Histogram of token counts per text (before truncation), with the `maxLength` cut drawn as a
 * dashed line and the share of texts that truncation shortens written beside it.
 */
export function tokenLengthHistogramFigure(
  lengths: number[],
  opts: { maxLength: number; binWidth?: number; title?: string },
): PlotlyFigure {
  const max = maxOf(lengths);
  const binWidth = opts.binWidth ?? niceBinWidth(Math.max(max, opts.maxLength));
  const hist = histogramBins(lengths, binWidth);
  const truncated = lengths.filter((n) => n > opts.maxLength).length;
  const share = lengths.length > 0 ? (100 * truncated) / lengths.length : 0;
  return {
    data: [
      {
        type: 'bar',
        name: 'texts',
        x: hist.binStarts.map((s) => s + binWidth / 2), // bar centres
        y: hist.counts,
        width: binWidth,
        marker: { color: COLORS.blue, line: { color: 'white', width: 0.5 } },
        hovertemplate: `%{customdata} tokens: %{y} texts<extra></extra>`,
        customdata: hist.binStarts.map((s) => `${s}–${s + binWidth - 1}`),
      },
    ],
    layout: {
      ...BASE_LAYOUT,
      hovermode: 'closest',
      bargap: 0,
      title: { text: opts.title ?? `Tokens per text (${lengths.length} texts)` },
      xaxis: { title: { text: 'tokens (with [CLS] and [SEP], before truncation)' }, rangemode: 'tozero' },
      yaxis: { title: { text: 'texts' } },
      shapes: [
        {
          type: 'line',
          x0: opts.maxLength,
          x1: opts.maxLength,
          yref: 'paper',
          y0: 0,
          y1: 1,
          line: { color: COLORS.red, width: 2, dash: 'dash' },
        },
      ],
      annotations: [
        {
          x: opts.maxLength,
          yref: 'paper',
          y: 1,
          xanchor: 'left',
          yanchor: 'top',
          showarrow: false,
          text: ` max_length ${opts.maxLength}: ${truncated} texts (${share.toFixed(1)}%) truncated`,
          font: { color: COLORS.red },
        },
      ],
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------------------------

export interface MemoryRow {
  label: string;
  fp32Bytes: number;
  nf4Bytes: number;
}

const MIB = 1024 * 1024;

/** What memoryRows needs of a linear layer (lib/linear.ts' Linear has it). */
export interface SizedLinear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Bytes the weight really occupies on the device (NF4: codes + block scales). */
  weightBytes(): number;
}

/**
 * Memory rows measured on a model's linear layers (by HF module path): the bytes each weight
 * really holds against 4 bytes per value in fp32, grouped into attention, feed-forward and
 * classifier head, plus a total row.
 */
export function memoryRows(linears: Map<string, SizedLinear>): MemoryRow[] {
  const groups: Array<{ label: string; test: (path: string) => boolean }> = [
    { label: 'attention (q, k, v, out)', test: (p) => /\.attention\./.test(p) },
    { label: 'feed-forward (lin1, lin2)', test: (p) => /\.ffn\./.test(p) },
    { label: 'classifier head', test: (p) => !/\.attention\.|\.ffn\./.test(p) },
  ];
  const rows: MemoryRow[] = [];
  for (const group of groups) {
    let fp32Bytes = 0;
    let nf4Bytes = 0;
    for (const [path, layer] of linears) {
      if (!group.test(path)) continue;
      fp32Bytes += 4 * layer.inFeatures * layer.outFeatures;
      nf4Bytes += layer.weightBytes();
    }
    if (fp32Bytes > 0) rows.push({ label: group.label, fp32Bytes, nf4Bytes });
  }
  rows.push({
    label: 'all linear layers',
    fp32Bytes: rows.reduce((n, r) => n + r.fp32Bytes, 0),
    nf4Bytes: rows.reduce((n, r) => n + r.nf4Bytes, 0),
  });
  return rows;
}

/** Grouped bars: fp32 vs NF4 bytes (in MiB) per row, e.g. per layer kind or for the whole model. */
export function memoryFigure(rows: MemoryRow[], opts: { title?: string } = {}): PlotlyFigure {
  const labels = rows.map((r) => r.label);
  const fp32 = rows.map((r) => r.fp32Bytes / MIB);
  const nf4 = rows.map((r) => r.nf4Bytes / MIB);
  return {
    data: [
      {
        type: 'bar',
        name: 'fp32',
        x: labels,
        y: fp32,
        text: fp32.map((v) => `${v.toFixed(1)} MiB`),
        textposition: 'outside',
        marker: { color: COLORS.grey },
      },
      {
        type: 'bar',
        name: 'NF4',
        x: labels,
        y: nf4,
        text: rows.map((r) => `${(r.nf4Bytes / MIB).toFixed(1)} MiB (${(r.fp32Bytes / r.nf4Bytes).toFixed(1)}× smaller)`),
        textposition: 'outside',
        marker: { color: COLORS.green },
      },
    ],
    layout: {
      ...BASE_LAYOUT,
      hovermode: 'closest',
      barmode: 'group',
      title: { text: opts.title ?? 'Frozen weight memory: fp32 vs NF4' },
      yaxis: { title: { text: 'MiB' }, rangemode: 'tozero' },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------------------------

/**
 * JSON that is safe inside a <script> element: `<`, `>` and `&` become \u escapes (so no
 * `</script>` or `<!--` can end the script early), as do U+2028/U+2029 (line breaks in old JS).
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/**
 * The plotly.js bundle as one inline <script>. `</` becomes `<\/` (the same string in JS) so
 * the HTML parser cannot see a closing tag inside it. Skipped when Plotly is already loaded.
 */
export function plotlyBundleHtml(bundleSource: string): string {
  const escaped = bundleSource.replace(/<\//g, '<\\/');
  return (
    '<script type="text/javascript">\n' +
    'if (typeof window.Plotly === "undefined") {\n' +
    escaped +
    '\n}\n</script>'
  );
}

const DEFAULT_CONFIG = { responsive: true, displaylogo: false };

/**
 * A <div> plus a script that draws the figure into it with Plotly.newPlot. The script waits
 * (up to 20 s) until both the div is in the page and Plotly is defined: in a live notebook the
 * output may be attached after its scripts start, and the bundle may still be loading.
 */
export function figureHtml(fig: PlotlyFigure, divId: string): string {
  if (!/^[A-Za-z][\w-]*$/.test(divId)) throw new Error(`figureHtml: invalid div id '${divId}'`);
  const height = typeof fig.layout.height === 'number' ? fig.layout.height : BASE_LAYOUT.height;
  const spec = { data: fig.data, layout: fig.layout, config: { ...DEFAULT_CONFIG, ...fig.config } };
  return `<div id="${divId}" class="qlora-chart" style="width:100%;max-width:960px;height:${height}px;"></div>
<script type="text/javascript">
(function () {
  var spec = ${jsonForScript(spec)};
  var started = Date.now();
  function draw() {
    var el = document.getElementById(${jsonForScript(divId)});
    if (el && typeof window.Plotly !== "undefined") {
      window.Plotly.newPlot(el, spec.data, spec.layout, spec.config);
    } else if (Date.now() - started < 20000) {
      setTimeout(draw, 50);
    } else if (el) {
      el.textContent = "plotly.js is not loaded: run the cell that calls ensurePlotly() (and trust the notebook).";
    }
  }
  draw();
})();
</script>`;
}

export interface TableOptions {
  /** Column order and selection (default: the keys of the first row). */
  columns?: string[];
  caption?: string;
  /** Longer strings are cut with an ellipsis (default 300 characters). */
  maxChars?: number;
  /** Rows beyond this are left out, with a note (default 50). */
  maxRows?: number;
}

/** Formats one table cell: integers as is, other numbers to 4 significant digits (0.8828, 5e-5). */
export function formatCell(value: unknown, maxChars = 300): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') {
    if (Number.isInteger(value) || !Number.isFinite(value)) return String(value);
    return String(Number(value.toPrecision(4)));
  }
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > maxChars ? text.slice(0, maxChars - 1) + '…' : text;
}

function tableColumns(rows: Record<string, unknown>[], opts: TableOptions): string[] {
  return opts.columns ?? (rows.length > 0 ? Object.keys(rows[0]) : []);
}

/** An HTML table of the rows, every value escaped. */
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
  const more =
    rows.length > shown.length ? `<p><i>… ${rows.length - shown.length} more rows not shown</i></p>` : '';
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

// ---------------------------------------------------------------------------------------------
// Progress
// ---------------------------------------------------------------------------------------------

export interface ProgressState {
  label: string;
  done: number;
  total: number;
  elapsedSeconds: number;
  /** Extra text after the counts, e.g. "loss 0.412". */
  info?: string;
}

/** "m:ss" or "h:mm:ss"; "?" when unknown. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** Seconds left at the average rate so far (NaN before the first item is done). */
export function etaSeconds(p: ProgressState): number {
  if (p.done <= 0) return NaN;
  return (p.elapsedSeconds / p.done) * Math.max(0, p.total - p.done);
}

function progressWords(p: ProgressState): string {
  const percent = p.total > 0 ? Math.floor((100 * p.done) / p.total) : 100;
  const timing =
    p.done >= p.total
      ? `${formatDuration(p.elapsedSeconds)} total`
      : `${formatDuration(p.elapsedSeconds)} elapsed, ETA ${formatDuration(etaSeconds(p))}`;
  return `${p.done}/${p.total} (${percent}%) · ${timing}` + (p.info ? ` · ${p.info}` : '');
}

/** One terminal line: `label [#####.....] 50/100 (50%) · 0:10 elapsed, ETA 0:10 · info`. */
export function progressText(p: ProgressState, width = 30): string {
  const fraction = p.total > 0 ? Math.min(1, p.done / p.total) : 1;
  const filled = Math.round(fraction * width);
  return `${p.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${progressWords(p)}`;
}

/** An HTML progress bar in the style of transformers' notebook progress. */
export function progressHtml(p: ProgressState): string {
  const max = Math.max(p.total, 1);
  return (
    `<div class="qlora-progress" style="font-family:monospace">` +
    `<b>${escapeHtml(p.label)}</b> ` +
    `<progress value="${Math.min(p.done, max)}" max="${max}" style="width:300px;vertical-align:middle"></progress> ` +
    `${escapeHtml(progressWords(p))}</div>`
  );
}

// ---------------------------------------------------------------------------------------------
// Text summaries (what a chart says when there is no notebook to draw it in)
// ---------------------------------------------------------------------------------------------

function formatNumber(v: unknown): string {
  return typeof v === 'number' ? formatCell(v) : String(v);
}

/** A few lines describing a figure: its title and, per trace, its size and last value. */
export function figureSummary(fig: PlotlyFigure): string {
  const title = fig.layout?.title?.text ?? 'chart';
  const lines = [`[chart] ${title}`];
  for (const trace of fig.data) {
    const name = trace.name ?? trace.type;
    if (trace.type === 'heatmap' && trace.z) {
      lines.push(`  ${name}: ${trace.z.map((row) => row.join(' ')).join(' | ')}`);
    } else if (trace.type === 'bar' && trace.x && trace.y) {
      const pairs = trace.x.map((x, i) => `${formatNumber(x)}=${formatNumber(trace.y![i])}`);
      const shown = pairs.length > 8 ? [...pairs.slice(0, 8), `… (${pairs.length} bars)`] : pairs;
      lines.push(`  ${name}: ${shown.join(', ')}`);
    } else if (trace.y) {
      const finite = trace.y.filter((v) => v !== null);
      const last = finite.length > 0 ? formatNumber(finite[finite.length - 1]) : '-';
      lines.push(`  ${name}: ${trace.y.length} points, last ${last}`);
    }
  }
  return lines.join('\n');
}

export { escapeHtml };
