// The LEARNING test (issue acceptance): a tiny random DistilBERT with the real tokenizer and real
// IMDB reviews learns sentiment with LoRA on all six linear kinds + head + word embeddings.
// Run alone: npx jest test/train-imdb   (the shuffled-label control is test/train-imdb-shuffled.test.ts,
// a separate file so that jest runs the two ~10-minute trainings in parallel on two cores).
import { runImdbTraining } from '../helpers/imdb-training';

test('learns IMDB sentiment: accuracy ≥ 0.65 on 1,000 held-out reviews, last-epoch training loss < 0.4', async () => {
  const r = await runImdbTraining({ shuffleLabels: false });
  console.log(r.summary);
  expect(r.accuracy).toBeGreaterThanOrEqual(0.65);
  expect(r.lastEpochLoss).toBeLessThan(0.4);
}, 20 * 60_000);
