// The Trainer's terminal reporter: what it writes, on a terminal and into a log.
import { EvalEvent, StepEvent, terminalProgress } from '../../lib/training/callbacks';

const step = (n: number): StepEvent => ({
  step: n, totalSteps: 4, epoch: n / 2, loss: 0.5, lr: 2e-5, gradNorm: 1.25, samplesPerSecond: 8, elapsedSeconds: 10 * n, etaSeconds: 10 * (4 - n),
});
const info = 'epoch 1.00 · loss 0.5000 · lr 2.00e-5 · grad norm 1.250 · 8.0 samples/s';

function recorder(isTTY: boolean) {
  const out: string[] = [];
  return { out, stream: { isTTY, write: (t: string) => out.push(t) } };
}

test('on a terminal: the line is rewritten after every step, and other lines start on a fresh one', () => {
  const r = recorder(true);
  const cb = terminalProgress(500, r.stream);
  cb.onStep!(step(2));
  cb.onEvaluate!({ step: 2, loss: 0.25, accuracy: 0.75, f1: 0.8 } as EvalEvent);
  cb.onStep!(step(4));
  cb.onEnd!({ step: 4, epoch: 2, trainingLoss: 0.4, seconds: 75, lastEval: null, lastCheckpoint: null });
  expect(r.out).toEqual([
    // 15 of 30 bar cells for 2 of 4 steps; 20 s elapsed, ETA (20/2)·2 = 20 s.
    `\r\x1b[Ktraining [###############...............] 2/4 (50%) · 00:20 elapsed, ETA 00:20 · ${info}`,
    '\neval @ step 2: loss 0.2500 · accuracy 0.7500 · F1 0.8000\n',
    `\r\x1b[Ktraining [##############################] 4/4 (100%) · 00:40 total · ${info.replace('epoch 1.00', 'epoch 2.00')}\n`,
    'done: 4 steps in 01:15, mean training loss 0.4000\n',
  ]);
});

test('in a log: a line every loggingSteps steps and after the last', () => {
  const r = recorder(false);
  const cb = terminalProgress(3, r.stream);
  [1, 2, 3, 4].forEach((n) => cb.onStep!(step(n)));
  expect(r.out.map((l) => l.slice(0, 20))).toEqual(['training [##########', 'training [##########']);
  expect(r.out[0]).toContain(' 3/4 (75%) ');
  expect(r.out[1]).toContain(' 4/4 (100%) ');
  expect(r.out.every((l) => l.endsWith('\n') && !l.includes('\r'))).toBe(true);
});
