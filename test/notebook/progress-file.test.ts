// The terminal progress of `npm run notebook`: the kernel side (lib/notebook/progress-file.ts)
// appends a terminal progress line to a file, the runner (scripts/run-notebook.ts' ProgressRelay)
// copies it to its stderr: verbatim on a terminal, as whole lines elsewhere.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { progressFileReporter } from '../../lib/notebook/progress-file';
import { ProgressRelay } from '../../scripts/run-notebook';

const sink = (isTTY: boolean) => {
  const out = { isTTY, text: '', write: (t: string) => void (out.text += t) };
  return out;
};

test('no file named: no reporter (a notebook opened in Jupyter writes nothing)', () => {
  expect(progressFileReporter(10, 'training', undefined)).toBeNull();
});

test('the reporter writes rewritten progress lines and notes; the relay passes them on', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-progress-test-'));
  const file = path.join(dir, 'progress.log');
  const reporter = progressFileReporter(4, 'training', file)!;
  const tty = sink(true);
  const log = sink(false);
  const ttyRelay = new ProgressRelay(file, tty, 30);
  const logRelay = new ProgressRelay(file, log, 3600);

  reporter.update(1, 'loss 0.6931');
  ttyRelay.poll();
  logRelay.poll(); // the first progress line of a log is shown at once
  reporter.update(2, 'loss 0.5000');
  reporter.note('evaluation @ step 2: loss 0.4000 · accuracy 0.7500');
  ttyRelay.poll();
  logRelay.poll();
  ttyRelay.line('[run-notebook] a line of the runner'); // the note ended the progress line: no extra newline
  reporter.update(3, 'loss 0.4500');
  ttyRelay.poll();
  logRelay.poll(); // within the hour: the log skips this rewrite
  ttyRelay.line('[run-notebook] cell done'); // breaks the open progress line first
  reporter.end(4, 'loss 0.4000');
  ttyRelay.poll(true);
  logRelay.poll(true);

  const raw = fs.readFileSync(file, 'utf8');
  expect(raw.match(/\r\x1b\[K/g)).toHaveLength(4);
  // On a terminal: the file's bytes, with the runner's own lines put between progress lines.
  expect(tty.text.replace('[run-notebook] a line of the runner\n', '').replace('\n[run-notebook] cell done\n', '')).toBe(raw);
  expect(tty.text).toContain('\n[run-notebook] cell done\n');
  // In a log: whole lines, no control characters; the final line and the note always.
  const lines = log.text.trimEnd().split('\n');
  expect(log.text).not.toMatch(/[\r\x1b]/);
  expect(lines).toHaveLength(4);
  expect(lines[0]).toMatch(/^training \[#{8}\.{22}\] 1\/4 \(25%\) · 00:00 elapsed, ETA 00:00 · loss 0\.6931$/);
  expect(lines[1]).toMatch(/^training \[#{15}\.{15}\] 2\/4 \(50%\) · .* · loss 0\.5000$/); // ended by the note
  expect(lines[2]).toBe('evaluation @ step 2: loss 0.4000 · accuracy 0.7500');
  expect(lines[3]).toMatch(/^training \[#{30}\] 4\/4 \(100%\) · 00:00 total · loss 0\.4000$/);
  fs.rmSync(dir, { recursive: true, force: true });
});
