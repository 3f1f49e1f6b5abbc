// Memory rows and their figure (lib/notebook/memory-chart.ts), by hand.
import { SizedLinear, memoryFigure, memoryRows } from '../../lib/notebook/memory-chart';

describe('memoryFigure', () => {
  test('fp32 and NF4 bars in MiB, with the ratio', () => {
    const MiB = 1024 * 1024;
    const fig = memoryFigure([{ label: 'attention', fp32Bytes: 64 * MiB, nf4Bytes: 16 * MiB }]);
    expect(fig.data.map((t) => t.name)).toEqual(['fp32', 'NF4']);
    expect(fig.data[0].y).toEqual([64]);
    expect(fig.data[1].y).toEqual([16]);
    expect(fig.data[1].text).toEqual(['16.0 MiB<br>4.0× smaller']);
    expect(fig.layout.barmode).toBe('group');
    // Labels stay horizontal and full size, with room above the tallest bar (64 MiB) for two lines.
    for (const trace of fig.data) expect(trace).toMatchObject({ textposition: 'outside', textangle: 0, constraintext: 'none', cliponaxis: false });
    expect(fig.layout.yaxis.range).toEqual([0, 1.3 * 64]);
  });
});

describe('memoryRows', () => {
  test('groups the layers by HF path into attention, feed-forward and head, plus a total', () => {
    const layer = (inFeatures: number, outFeatures: number, weightBytes: number): SizedLinear => ({ inFeatures, outFeatures, weightBytes: () => weightBytes });
    const rows = memoryRows(
      new Map([
        ['distilbert.transformer.layer.0.attention.q_lin', layer(8, 8, 40)], // fp32: 4·64 = 256 bytes
        ['distilbert.transformer.layer.0.ffn.lin1', layer(8, 16, 72)], // 4·128 = 512
        ['pre_classifier', layer(8, 8, 256)],
        ['classifier', layer(8, 2, 64)], // 4·16 = 64
      ]),
    );
    expect(rows).toEqual([
      { label: 'attention (q, k, v, out)', fp32Bytes: 256, nf4Bytes: 40 },
      { label: 'feed-forward (lin1, lin2)', fp32Bytes: 512, nf4Bytes: 72 },
      { label: 'classifier head', fp32Bytes: 320, nf4Bytes: 320 },
      { label: 'all linear layers', fp32Bytes: 1088, nf4Bytes: 432 },
    ]);
  });
});
