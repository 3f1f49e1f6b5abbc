// lib/util/format.ts against independent references: byte counts in decimal units (the Hub's
// pages), durations as tqdm's `format_interval` prints them (tqdm/std.py:
// `mins, s = divmod(int(t), 60); h, m = divmod(mins, 60)`, then `h:mm:ss` or `mm:ss`).
import { formatBytes, formatDuration } from '../../lib/util/format';

test('bytes in decimal units', () => {
  expect(formatBytes(0)).toBe('0 B');
  expect(formatBytes(512)).toBe('512 B');
  expect(formatBytes(999)).toBe('999 B');
  expect(formatBytes(1000)).toBe('1.0 kB');
  expect(formatBytes(1500)).toBe('1.5 kB');
  expect(formatBytes(267_967_963)).toBe('268.0 MB'); // distilbert-base-uncased model.safetensors
  expect(formatBytes(2.5e12)).toBe('2.5 TB');
  expect(formatBytes(3e15)).toBe('3000.0 TB'); // no unit above TB
});

test("durations as tqdm's format_interval", () => {
  expect(formatDuration(0)).toBe('00:00');
  expect(formatDuration(42.4)).toBe('00:42');
  expect(formatDuration(59.9)).toBe('00:59'); // int(t) truncates, as tqdm does
  expect(formatDuration(125)).toBe('02:05');
  expect(formatDuration(3599)).toBe('59:59');
  expect(formatDuration(3600)).toBe('1:00:00');
  expect(formatDuration(3720)).toBe('1:02:00');
  expect(formatDuration(100 * 3600 + 61)).toBe('100:01:01');
});

test('unknown durations are "?"', () => {
  expect(formatDuration(NaN)).toBe('?');
  expect(formatDuration(Infinity)).toBe('?');
  expect(formatDuration(-1)).toBe('?');
});
