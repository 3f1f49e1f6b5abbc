// The notebook's plotly figures: training loss, validation metrics, confusion matrix, token
// lengths, memory.
//
// Everything here is pure: plain data in, a plotly `{ data, layout }` object out. No tslab, no
// DOM, no file access, so the figures can be unit-tested in jest and built in plain Node.
// figure-output.ts turns a figure into HTML or a text summary; display.ts puts it on screen.

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

/** matplotlib's default colour cycle (tab10), which plotly users also know from D3. */
export const COLORS = {
  blue: '#1f77b4',
  orange: '#ff7f0e',
  green: '#2ca02c',
  red: '#d62728',
  purple: '#9467bd',
  grey: '#7f7f7f',
};

/** Layout shared by every figure (height in px). */
export const BASE_LAYOUT = {
  height: 380,
  margin: { l: 70, r: 70, t: 50, b: 50 },
  legend: { orientation: 'h', x: 0, y: -0.18 },
  hovermode: 'x unified',
};

/** A line on the right axis (y2) through the points that have `value`; null when none has it. */
function rightAxisTrace<P extends { step: number }>(
  points: P[],
  value: (p: P) => number | undefined,
  style: Omit<PlotlyTrace, 'type'>,
): PlotlyTrace | null {
  const present = points.filter((p) => value(p) !== undefined);
  if (present.length === 0) return null;
  return { type: 'scatter', ...style, x: present.map((p) => p.step), y: present.map((p) => value(p) as number), yaxis: 'y2' };
}

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
  const rate = rightAxisTrace(points, (p) => p.lr, { mode: 'lines', name: 'learning rate', line: { color: COLORS.orange, width: 1.5, dash: 'dot' } });
  if (rate) {
    data.push(rate);
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
  const f1 = rightAxisTrace(points, (p) => p.f1, { mode: 'lines+markers', name: 'F1', line: { color: COLORS.purple, dash: 'dash' } });
  if (f1) data.push(f1);
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
