// Showing charts, tables and progress: in a tslab notebook as live HTML outputs, elsewhere
// (plain Node, jest, a script) as short text on the terminal.
//
// This is the only module in lib/ that talks to tslab, and it loads tslab lazily and only when
// it runs inside a tslab kernel, so importing it costs nothing in plain Node.
//
// How charts get into the notebook and its HTML report: the plotly.js bundle is emitted once as
// an inline <script> (ensurePlotly), then each chart is a <div> plus a small script calling
// Plotly.newPlot. Live charts and progress bars are outputs with a display id that later calls
// replace in place (Jupyter's update_display_data); nbconvert saves the last version of each,
// so the report shows the final state as long as `done()` is called before the cell ends.
import * as fs from 'fs';
import type { Display } from 'tslab';
import { EvalPoint, PlotlyFigure, TrainingPoint, trainingLossFigure, validationFigure } from './charts';
import { figureHtml, figureSummary, plotlyBundleHtml } from './figure-output';
import { escapeHtml } from '../util/html';
import { ProgressState, progressHtml, progressLine, progressText } from '../util/progress';
import { TableOptions, htmlTable, textTable } from '../util/table';
import { progressFileReporter } from './progress-file';

/** Where outputs go. `show` adds an output; `live()` makes one whose content later calls replace. */
export interface DisplayTarget {
  /** True for a notebook (HTML outputs); false for a terminal (text). */
  readonly rich: boolean;
  show(html: string): void;
  live(): { show(html: string): void };
  /** Text for a terminal (ignored by rich targets unless they choose otherwise). */
  print(text: string): void;
}

/** True inside a tslab kernel (from its first cell on), where outputs can be HTML. */
export function inKernel(): boolean {
  // The kernel's own tslab modules are in Node's module cache; outside a kernel they are not
  // (and we must not load tslab just to find out: it pulls in a TypeScript compiler).
  for (const key of Object.keys(require.cache ?? {})) {
    if (/[\\/]tslab[\\/]dist[\\/]jupyter\.js$/.test(key)) {
      const exports = require.cache[key]?.exports as { lastWriteDisplayData?: unknown } | undefined;
      if (typeof exports?.lastWriteDisplayData === 'function') return true;
    }
  }
  return false;
}

function kernelTarget(): DisplayTarget {
  // Inside a kernel tslab hooks require('tslab') to return the kernel's own instance.
  const tslab = require('tslab') as { display: Display; newDisplay(): Display };
  return {
    rich: true,
    show: (html) => tslab.display.html(html),
    live: () => {
      const handle = tslab.newDisplay();
      return { show: (html: string) => handle.html(html) };
    },
    print: (text) => console.log(text),
  };
}

const terminalTarget: DisplayTarget = {
  rich: false,
  show: () => undefined,
  live: () => ({ show: () => undefined }),
  print: (text) => console.log(text),
};

let overrideTarget: DisplayTarget | null = null;

/** Sends all output to `target` (tests, other front ends); `null` goes back to auto-detection. */
export function setDisplayTarget(target: DisplayTarget | null): void {
  overrideTarget = target;
}

function target(): DisplayTarget {
  if (overrideTarget) return overrideTarget;
  return inKernel() ? kernelTarget() : terminalTarget;
}

// Unique within a page, also across kernel restarts (a saved notebook keeps old outputs).
let idCounter = 0;
function newId(prefix: string): string {
  idCounter += 1;
  return `${prefix}-${Date.now().toString(36)}-${idCounter}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}

// ---------------------------------------------------------------------------------------------
// plotly.js
// ---------------------------------------------------------------------------------------------

/** The plotly.js bundle on disk: the minified one when installed, else the full one. */
export function plotlyBundlePath(): string {
  for (const candidate of ['plotly.js-dist-min/plotly.min.js', 'plotly.js-dist/plotly.js']) {
    try {
      return require.resolve(candidate);
    } catch {
      // not installed: try the next one
    }
  }
  throw new Error('plotly.js is not installed: run `npm ci` (package.json lists plotly.js-dist).');
}

// Kept on globalThis, not in a module variable: tslab recompiles and reloads an imported file
// when a cell imports it again, which would reset a module variable and re-send 10 MB.
const PLOTLY_FLAG = '__qlora_plotly_emitted__';

/**
 * Emits the plotly.js bundle into the notebook once per kernel, as an inline script, so charts
 * draw offline and in the exported HTML. Called by every chart function; call it yourself with
 * `{ force: true }` if the cell that held the bundle was cleared or re-run.
 */
export function ensurePlotly(opts: { force?: boolean } = {}): void {
  const t = target();
  if (!t.rich) return;
  const g = globalThis as Record<string, unknown>;
  if (g[PLOTLY_FLAG] && !opts.force) return;
  t.show(plotlyBundleHtml(fs.readFileSync(plotlyBundlePath(), 'utf8')));
  g[PLOTLY_FLAG] = true;
}

/** Draws a figure once (or prints a text summary outside a notebook). */
export function showFigure(fig: PlotlyFigure): void {
  const t = target();
  if (!t.rich) {
    t.print(figureSummary(fig));
    return;
  }
  ensurePlotly();
  t.show(figureHtml(fig, newId('qlora-chart')));
}

export interface LiveFigure {
  /** Replaces the figure. Redrawn at most every `minIntervalMs`; the latest one always wins. */
  update(fig: PlotlyFigure): void;
  /** Draws the latest figure now. Call it before the cell ends so the saved notebook has the final state. */
  done(fig?: PlotlyFigure): void;
}

export interface LiveOptions {
  /** Least time between two redraws (default 500 ms: at most 2 per second). */
  minIntervalMs?: number;
  /** The clock, in milliseconds (tests pass a fake one). */
  now?: () => number;
}

/**
 * Calls `render(value)` at most once per interval; a value that arrives too soon is kept and
 * drawn by a timer (so the live view catches up) or by `flush`.
 */
function throttled<T>(render: (value: T) => void, opts: LiveOptions) {
  const interval = opts.minIntervalMs ?? 500;
  const now = opts.now ?? Date.now;
  let lastRender = -Infinity;
  let pending: { value: T } | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;

  const renderNow = (value: T) => {
    if (timer) clearTimeout(timer);
    timer = null;
    pending = null;
    lastRender = now();
    render(value);
  };
  return {
    push(value: T) {
      if (now() - lastRender >= interval) {
        renderNow(value);
        return;
      }
      pending = { value };
      // A real timer only with the real clock; with a fake clock the test drives time itself.
      if (!timer && !opts.now) {
        timer = setTimeout(() => {
          timer = null;
          if (pending) renderNow(pending.value);
        }, interval);
        timer.unref?.();
      }
    },
    flush(value?: T) {
      if (value !== undefined) renderNow(value);
      else if (pending) renderNow(pending.value);
    },
    /** Forgets a pending value without drawing it. */
    cancel() {
      if (timer) clearTimeout(timer);
      timer = null;
      pending = null;
    },
  };
}

/**
 * A chart that updates in place while a cell runs (e.g. the loss during training). Outside a
 * notebook updates are silent and `done()` prints a summary of the final figure.
 */
export function liveFigure(initial: PlotlyFigure, opts: LiveOptions = {}): LiveFigure {
  const t = target();
  if (!t.rich) {
    let latest = initial;
    return {
      update: (fig) => {
        latest = fig;
      },
      done: (fig) => t.print(figureSummary(fig ?? latest)),
    };
  }
  ensurePlotly();
  const output = t.live();
  const draw = (fig: PlotlyFigure) => output.show(figureHtml(fig, newId('qlora-live')));
  const throttle = throttled(draw, opts);
  throttle.flush(initial); // drawn now, and starts the interval
  return {
    update: (fig) => throttle.push(fig),
    done: (fig) => throttle.flush(fig),
  };
}

// ---------------------------------------------------------------------------------------------
// Progress
// ---------------------------------------------------------------------------------------------

export interface ProgressBar {
  /** Sets the number of items done so far, with optional extra text (e.g. the loss). */
  update(done: number, info?: string): void;
  /** Adds `n` (default 1) to the items done. */
  tick(n?: number, info?: string): void;
  /** Marks the end (draws the final state; in a terminal, ends the line). */
  done(info?: string): void;
}

/**
 * A progress bar with elapsed time and ETA: a live HTML bar in a notebook, a line rewritten in
 * place on a terminal, and one line per 10% when output goes to a file or a pipe.
 */
export function progressBar(total: number, label: string, opts: LiveOptions = {}): ProgressBar {
  const t = target();
  const now = opts.now ?? Date.now;
  const start = now();
  let count = 0;
  let info: string | undefined;
  const state = (): ProgressState => ({ label, done: count, total, elapsedSeconds: (now() - start) / 1000, info });

  let render: (p: ProgressState) => void;
  let finish: (p: ProgressState) => void;
  if (t.rich) {
    const output = t.live();
    render = (p) => output.show(progressHtml(p));
    finish = render;
  } else if (!overrideTarget && process.stdout.isTTY) {
    const line = progressLine(process.stdout);
    render = (p) => line.update(progressText(p));
    finish = (p) => line.end(progressText(p));
  } else {
    let lastTenth = -1;
    render = (p) => {
      const tenth = p.total > 0 ? Math.floor((10 * p.done) / p.total) : 10;
      // The 100% line is printed by done(), with the total time.
      if (tenth > lastTenth && p.done < p.total) {
        lastTenth = tenth;
        t.print(progressText(p));
      }
    };
    finish = (p) => t.print(progressText(p));
  }
  const throttle = throttled(render, { minIntervalMs: opts.minIntervalMs ?? 250, now: opts.now });
  throttle.flush(state());
  return {
    update(done, extra) {
      count = done;
      if (extra !== undefined) info = extra;
      throttle.push(state());
    },
    tick(n = 1, extra) {
      this.update(count + n, extra);
    },
    done(extra) {
      if (extra !== undefined) info = extra;
      throttle.cancel(); // the final state is drawn next, a pending one is stale
      finish(state());
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Training
// ---------------------------------------------------------------------------------------------

/** Live loss and validation charts plus a progress bar, fed by a training loop's events. */
export interface LiveTraining {
  /** After each optimizer step (a Trainer step event fits: step, loss, lr). */
  onStep(e: TrainingPoint): void;
  /** After each evaluation (a Trainer evaluation event fits: step, loss, accuracy, f1). */
  onEvaluate(e: EvalPoint): void;
  /** Draws the final state of everything: call it when training ends, before the cell ends. */
  onEnd(): void;
  /** Everything received so far. */
  readonly history: TrainingPoint[];
  readonly evaluations: EvalPoint[];
}

/**
 * The training display of the notebook. Its methods have the names of the Trainer's callbacks,
 * so it can be passed as (part of) them.
 */
export function liveTraining(totalSteps: number, opts: LiveOptions & { label?: string } = {}): LiveTraining {
  const history: TrainingPoint[] = [];
  const evaluations: EvalPoint[] = [];
  const lossChart = liveFigure(trainingLossFigure(history), opts);
  const evalChart = liveFigure(validationFigure(evaluations), opts);
  const bar = progressBar(totalSteps, opts.label ?? 'training', opts);
  const terminal = progressFileReporter(totalSteps, opts.label ?? 'training'); // `npm run notebook` shows it in its terminal too
  const lastAccuracy = () => {
    const last = evaluations[evaluations.length - 1];
    return last ? ` · val accuracy ${(100 * last.accuracy).toFixed(1)}%` : '';
  };
  return {
    history,
    evaluations,
    onStep(e) {
      history.push({ step: e.step, loss: e.loss, lr: e.lr });
      lossChart.update(trainingLossFigure(history));
      bar.update(e.step, `loss ${e.loss.toFixed(4)}${lastAccuracy()}`);
      terminal?.update(e.step, `loss ${e.loss.toFixed(4)}${lastAccuracy()}`);
    },
    onEvaluate(e) {
      evaluations.push({ step: e.step, loss: e.loss, accuracy: e.accuracy, f1: e.f1 });
      evalChart.update(validationFigure(evaluations));
      terminal?.note(`evaluation @ step ${e.step}: loss ${e.loss.toFixed(4)} · accuracy ${e.accuracy.toFixed(4)}${e.f1 === undefined ? '' : ` · F1 ${e.f1.toFixed(4)}`}`);
    },
    onEnd() {
      lossChart.done();
      evalChart.done();
      const last = history[history.length - 1];
      bar.done(last ? `loss ${last.loss.toFixed(4)}${lastAccuracy()}` : undefined);
      if (last) terminal?.end(last.step, `loss ${last.loss.toFixed(4)}${lastAccuracy()}`);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Tables and text
// ---------------------------------------------------------------------------------------------

/** Shows rows as a table (escaped HTML in a notebook, aligned text elsewhere). */
export function showTable(rows: Record<string, unknown>[], opts: TableOptions = {}): void {
  const t = target();
  if (t.rich) t.show(htmlTable(rows, opts));
  else t.print(textTable(rows, opts));
}

/** Shows trusted HTML in a notebook; prints `fallbackText` (if given) elsewhere. */
export function showHtml(html: string, fallbackText?: string): void {
  const t = target();
  if (t.rich) t.show(html);
  else if (fallbackText !== undefined) t.print(fallbackText);
}

/** Shows preformatted text: a <pre> block in a notebook, plain on a terminal. */
export function showText(text: string): void {
  const t = target();
  if (t.rich) t.show(`<pre>${escapeHtml(text)}</pre>`);
  else t.print(text);
}
