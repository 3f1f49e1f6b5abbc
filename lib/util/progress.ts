// Byte-progress reporting for long transfers (Hub downloads, dataset fetches).
//
// A `ByteMeter` turns "n more bytes arrived" into progress events with a rate and an ETA; a
// reporter decides what to show. The default reporter prints one self-overwriting line when
// stderr is a terminal, and a plain line every few seconds otherwise (notebooks, CI logs), so
// a 268 MB checkpoint download is visible without flooding a log. Small, fast transfers that
// finish before the first interval print nothing.
import { formatBytes, formatDuration } from './format';

// hub.ts imports formatBytes from here; its home is ./format.
export { formatBytes };

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

/** The bit of a writable stream the reporter needs (process.stderr, or a test double). */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
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

  return (p: ByteProgress) => {
    const t = now();
    if (!started.has(p.file)) started.set(p.file, t);
    const since = lastPrinted.get(p.file) ?? started.get(p.file)!;
    const printedBefore = lastPrinted.has(p.file);

    if (p.done) {
      if (printedBefore) stream.write(tty ? `\r\x1b[K${formatProgress(p)}\n` : `${formatProgress(p)}\n`);
      started.delete(p.file);
      lastPrinted.delete(p.file);
      return;
    }
    if (t - since < intervalMs) return;
    lastPrinted.set(p.file, t);
    stream.write(tty ? `\r\x1b[K${formatProgress(p)}` : `${formatProgress(p)}\n`);
  };
}
