// A figure as output: HTML that draws it with plotly.js (in a notebook and its HTML report),
// or a few lines of text saying what it shows (on a terminal).
import { BASE_LAYOUT, PlotlyFigure } from './charts';
import { formatCell } from '../util/table';

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

// ---- text summaries (what a chart says when there is no notebook to draw it in) ----

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
