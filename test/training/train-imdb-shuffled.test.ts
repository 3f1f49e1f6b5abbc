// Control for test/train-imdb.test.ts: the same run with training labels shuffled must not beat
// chance on the held-out reviews (so the learning test measures learning, not a leak).
import { runImdbTraining } from '../helpers/imdb-training';

test('with shuffled training labels, held-out accuracy stays < 0.56', async () => {
  const r = await runImdbTraining({ shuffleLabels: true });
  console.log(r.summary);
  expect(r.accuracy).toBeLessThan(0.56);
}, 20 * 60_000);
