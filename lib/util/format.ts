// Human-readable byte counts and durations: the one formatter for downloads, training progress,
// notebook progress bars and log lines.

/** "512 B", "1.5 kB", "268.0 MB": decimal units (1 kB = 1000 B), as the Hub's web pages show sizes. */
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * "00:42", "02:05", "1:02:00": tqdm's `format_interval` (whole seconds, truncated), the format of
 * the progress bars transformers' Trainer prints. "?" for a duration not known yet (NaN,
 * Infinity or negative, e.g. an ETA before the first step).
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const total = Math.floor(seconds);
  const s = total % 60;
  const minutes = Math.floor(total / 60);
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  const two = (x: number) => String(x).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(s)}` : `${two(m)}:${two(s)}`;
}
