// Progress: the one implementation, for downloads, training and the notebook's progress bars.
//
// A progress state (label, done of total, elapsed time, extra info) becomes one line of text
// (`progressText`, for terminals and logs) or an HTML bar (`progressHtml`, for notebooks);
// `progressLine` writes lines to a stream, rewritten in place on a terminal. The reporters
// (consoleProgress here for byte transfers, the Trainer's terminal reporter, the notebook's
// progressBar) only decide when to draw.
//
// Byte transfers (Hub downloads, dataset fetches):
// A `ByteMeter` turns "n more bytes arrived" into progress events with a rate and an ETA; a
// reporter decides what to show. The default reporter prints one self-overwriting line when
// stderr is a terminal, and a plain line every few seconds otherwise (notebooks, CI logs), so
// a 268 MB checkpoint download is visible without flooding a log. Small, fast transfers that
// finish before the first interval print nothing.
import { formatBytes, formatDuration } from './format';
import { escapeHtml } from './html';


/** Where a counted task stands: `done` of `total` items after `elapsedSeconds`. */
export interface ProgressState {
  label: string;
  done: number;
  total: number;
  elapsedSeconds: number;
  /** Extra text after the counts, e.g. "loss 0.412". */
  info?: string;
}

/** Seconds left at the average rate so far (NaN before the first item is done). */
export function etaSeconds(p: ProgressState): number {
  if (p.done <= 0) return NaN;
  return (p.elapsedSeconds / p.done) * Math.max(0, p.total - p.done);
}

/** "25/100 (25%) · 00:10 elapsed, ETA 00:30 · info"; a finished task shows its total time. */
function progressWords(p: ProgressState): string {
  const percent = p.total > 0 ? Math.floor((100 * p.done) / p.total) : 100;
  const timing =
    p.done >= p.total
      ? `${formatDuration(p.elapsedSeconds)} total`
      : `${formatDuration(p.elapsedSeconds)} elapsed, ETA ${formatDuration(etaSeconds(p))}`;
  return `${p.done}/${p.total} (${percent}%) · ${timing}` + (p.info ? ` · ${p.info}` : '');
}

/** One terminal line: `label [#####.....] 50/100 (50%) · 00:10 elapsed, ETA 00:10 · info`. */
export function progressText(p: ProgressState, width = 30): string {
  const fraction = p.total > 0 ? Math.min(1, p.done / p.total) : 1;
  const filled = Math.round(fraction * width);
  return `${p.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${progressWords(p)}`;
}

/** An HTML progress bar in the style of transformers' notebook progress (label, <progress>, the same words). */
export function progressHtml(p: ProgressState): string {
  const max = Math.max(p.total, 1);
  return (
    `<div class="qlora-progress" style="font-family:monospace">` +
    `<b>${escapeHtml(p.label)}</b> ` +
    `<progress value="${Math.min(p.done, max)}" max="${max}" style="width:300px;vertical-align:middle"></progress> ` +
    `${escapeHtml(progressWords(p))}</div>`
  );
}

/** The bit of a writable stream the reporters need (process.stderr, or a test double). */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

/**
 * Writes progress lines to `stream`. On a terminal `update` rewrites the current line in place
 * and `end` finishes it with a newline; elsewhere (a log file, CI) each call writes a whole line,
 * so the caller decides how often. `note` writes a line of its own (after ending a pending one).
 */
export function progressLine(stream: ProgressStream): { update(text: string): void; end(text: string): void; note(text: string): void } {
  const tty = stream.isTTY === true;
  let open = false;
  return {
    update(text) {
      stream.write(tty ? `\r\x1b[K${text}` : `${text}\n`);
      open = tty;
    },
    end(text) {
      stream.write(tty ? `\r\x1b[K${text}\n` : `${text}\n`);
      open = false;
    },
    note(text) {
      stream.write(`${open ? '\n' : ''}${text}\n`);
      open = false;
    },
  };
}

/** One progress event. `total` is null when the server did not say how big the file is. */
export interface ByteProgress {
  /** What is being transferred (a repo-relative file name). */
  file: string;
  /** Bytes present so far, including bytes from an earlier, resumed attempt. */
  bytes: number;
  total: number | null;
  /** Bytes per second over this transfer (resumed bytes excluded). */
  rate: number;
  /** Seconds left at the current rate; null when unknown (no total, or no rate yet). */
  etaSeconds: number | null;
  /** True on the last event of a successful transfer. */
  done: boolean;
}

export type ProgressCallback = (p: ByteProgress) => void;

/** Counts bytes for one transfer and forwards progress events to a callback. */
export class ByteMeter {
  private readonly startedAt = Date.now();
  private readonly startBytes: number;
  private bytes: number;

  constructor(
    private readonly file: string,
    private readonly total: number | null,
    alreadyPresent: number,
    private readonly onProgress: ProgressCallback | null,
  ) {
    this.startBytes = alreadyPresent;
    this.bytes = alreadyPresent;
  }

  add(n: number): void {
    this.bytes += n;
    this.emit(false);
  }

  finish(): void {
    this.emit(true);
  }

  private emit(done: boolean): void {
    if (!this.onProgress) return;
    const seconds = Math.max((Date.now() - this.startedAt) / 1000, 1e-3);
    const rate = (this.bytes - this.startBytes) / seconds;
    const etaSeconds =
      this.total !== null && rate > 0 ? Math.max(this.total - this.bytes, 0) / rate : null;
    this.onProgress({ file: this.file, bytes: this.bytes, total: this.total, rate, etaSeconds, done });
  }
}

/** One human-readable line: `model.safetensors  45.2 MB / 268.0 MB  17%  12.3 MB/s  ETA 00:18`. */
export function formatProgress(p: ByteProgress): string {
  const parts = [p.file];
  if (p.total !== null) {
    const percent = p.total > 0 ? Math.floor((100 * p.bytes) / p.total) : 100;
    parts.push(`${formatBytes(p.bytes)} / ${formatBytes(p.total)}`, `${percent}%`);
  } else {
    parts.push(formatBytes(p.bytes));
  }
  parts.push(`${formatBytes(p.rate)}/s`);
  if (p.done) parts.push('done');
  else if (p.etaSeconds !== null) parts.push(`ETA ${formatDuration(p.etaSeconds)}`);
  return parts.join('  ');
}

/**
 * The default reporter: on a terminal, one line rewritten in place (at most every
 * `intervalMs`, default 200 ms); elsewhere, a plain line every `intervalMs` (default 5 s).
 * Nothing is printed for a transfer that completes before its first interval.
 */
export function consoleProgress(
  opts: { stream?: ProgressStream; intervalMs?: number; now?: () => number } = {},
): ProgressCallback {
  const stream = opts.stream ?? process.stderr;
  const tty = stream.isTTY === true;
  const intervalMs = opts.intervalMs ?? (tty ? 200 : 5000);
  const now = opts.now ?? Date.now;
  // Per file: when it started and when we last printed (several files may share a reporter).
  const started = new Map<string, number>();
  const lastPrinted = new Map<string, number>();
  const line = progressLine(stream);

  return (p: ByteProgress) => {
    const t = now();
    if (!started.has(p.file)) started.set(p.file, t);
    const since = lastPrinted.get(p.file) ?? started.get(p.file)!;
    const printedBefore = lastPrinted.has(p.file);

    if (p.done) {
      if (printedBefore) line.end(formatProgress(p));
      started.delete(p.file);
      lastPrinted.delete(p.file);
      return;
    }
    if (t - since < intervalMs) return;
    lastPrinted.set(p.file, t);
    line.update(formatProgress(p));
  };
}
