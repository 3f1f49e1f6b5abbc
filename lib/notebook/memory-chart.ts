// How much memory the frozen weights take: measured per layer kind, fp32 against what the
// layers really hold (NF4 codes and block scales), as rows and as a grouped bar figure.
import { BASE_LAYOUT, COLORS, PlotlyFigure } from './charts';

export interface MemoryRow {
  label: string;
  fp32Bytes: number;
  nf4Bytes: number;
}

const MIB = 1024 * 1024;

/** What memoryRows needs of a linear layer (lib/models/linear.ts' Linear has it). */
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

/**
 * Grouped bars: fp32 vs NF4 bytes (in MiB) per row, e.g. per layer kind or for the whole model.
 * Each bar is labelled above it, horizontally, at full size (plotly would otherwise shrink or turn
 * a label wider than its bar): "7.0 MiB", and for NF4 the ratio on a second line; the y axis
 * leaves room above the tallest bar for the two lines.
 */
export function memoryFigure(rows: MemoryRow[], opts: { title?: string } = {}): PlotlyFigure {
  const labels = rows.map((r) => r.label);
  const fp32 = rows.map((r) => r.fp32Bytes / MIB);
  const nf4 = rows.map((r) => r.nf4Bytes / MIB);
  const label = { textposition: 'outside', textangle: 0, constraintext: 'none', cliponaxis: false, textfont: { size: 12 } };
  return {
    data: [
      { type: 'bar', name: 'fp32', x: labels, y: fp32, text: fp32.map((v) => `${v.toFixed(1)} MiB`), ...label, marker: { color: COLORS.grey } },
      {
        type: 'bar',
        name: 'NF4',
        x: labels,
        y: nf4,
        text: rows.map((r) => `${(r.nf4Bytes / MIB).toFixed(1)} MiB<br>${(r.fp32Bytes / r.nf4Bytes).toFixed(1)}× smaller`),
        ...label,
        marker: { color: COLORS.green },
      },
    ],
    layout: {
      ...BASE_LAYOUT,
      hovermode: 'closest',
      barmode: 'group',
      title: { text: opts.title ?? 'Frozen weight memory: fp32 vs NF4' },
      yaxis: { title: { text: 'MiB' }, range: [0, 1.3 * Math.max(0, ...fp32, ...nf4)] },
    },
  };
}
