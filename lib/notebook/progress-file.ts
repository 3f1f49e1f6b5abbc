// Training progress for the terminal that runs the notebook headlessly (`npm run notebook`).
//
// nbconvert shows a kernel's output only in the saved notebook, so a cell that trains for an
// hour is silent in the terminal. scripts/run-notebook.ts therefore names a file in
// QLORA_PROGRESS_FILE; the live display appends a terminal progress line to it (`\r`-rewritten
// after every step: step, loss, ETA; evaluations on lines of their own), and the runner copies
// what is appended to its own stderr as it comes.
import * as fs from 'fs';
import { progressLine, progressText } from '../util/progress';

export const PROGRESS_FILE_VARIABLE = 'QLORA_PROGRESS_FILE';

export interface ProgressFileReporter {
  /** Rewrites the progress line: `label [###...] done/total (pct%) · elapsed, ETA · info`. */
  update(done: number, info: string): void;
  /** A line of its own (an evaluation). */
  note(text: string): void;
  /** The final progress line. */
  end(done: number, info: string): void;
}

/**
 * A progress line for `total` steps written into `file` (default $QLORA_PROGRESS_FILE), or null
 * when no file is named (a notebook opened in Jupyter). Writes never throw: a runner that went
 * away must not stop the training.
 */
export function progressFileReporter(
  total: number,
  label = 'training',
  file: string | undefined = process.env[PROGRESS_FILE_VARIABLE],
): ProgressFileReporter | null {
  if (!file) return null;
  const started = Date.now();
  const line = progressLine({
    isTTY: true, // the runner turns rewrites into whole lines when its own stderr is not a terminal
    write(text: string) {
      try {
        fs.appendFileSync(file, text);
      } catch {
        // the runner's file is gone: nothing to report to
      }
    },
  });
  const text = (done: number, info: string) => progressText({ label, done, total, elapsedSeconds: (Date.now() - started) / 1000, info });
  return {
    update: (done, info) => line.update(text(done, info)),
    note: (t) => line.note(t),
    end: (done, info) => line.end(text(done, info)),
  };
}
