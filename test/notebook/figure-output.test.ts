// A figure as HTML (plotly embedding) or as a text summary (lib/notebook/figure-output.ts).
import * as vm from 'vm';
import { confusionMatrixFigure, trainingLossFigure } from '../../lib/notebook/charts';
import { figureHtml, figureSummary, jsonForScript, plotlyBundleHtml } from '../../lib/notebook/figure-output';

describe('HTML', () => {
  test('jsonForScript has no "<" and parses back to the same value', () => {
    const value = { text: '</script><!-- & \u2028', n: [1, 2.5] };
    const json = jsonForScript(value);
    expect(json).not.toMatch(/[<>&\u2028]/);
    expect(JSON.parse(json)).toEqual(value);
  });

  test('plotlyBundleHtml: no early </script>, and the escaped code still runs', () => {
    const source = 'window.Plotly = { s: "</script>", re: /<\\/b>/.source };';
    const html = plotlyBundleHtml(source);
    expect(html.match(/<\/script/gi)).toHaveLength(1); // only the real closing tag
    const body = html.replace(/^<script[^>]*>/, '').replace(/<\/script>$/, '');
    const sandbox: { window: any } = { window: {} };
    vm.runInNewContext(body, sandbox);
    expect(sandbox.window.Plotly.s).toBe('</script>');
    expect(sandbox.window.Plotly.re).toBe('<\\/b>');
  });

  test('figureHtml: a div with the id and a script whose spec is the figure', () => {
    const fig = trainingLossFigure([{ step: 1, loss: 0.5 }]);
    const html = figureHtml(fig, 'chart-1');
    expect(html).toContain('<div id="chart-1"');
    const spec = JSON.parse(html.match(/var spec = (.*);\n/)![1]);
    expect(spec.data).toEqual(JSON.parse(JSON.stringify(fig.data)));
    expect(spec.config.responsive).toBe(true);
    expect(() => figureHtml(fig, '"><script>')).toThrow(/invalid div id/);
  });

});

describe('text', () => {
  test('figureSummary names the title and each trace', () => {
    const summary = figureSummary(confusionMatrixFigure([[3, 1], [0, 4]], ['neg', 'pos']));
    expect(summary).toBe('[chart] Confusion matrix (8 examples)\n  count: 3 1 | 0 4');
  });
});
