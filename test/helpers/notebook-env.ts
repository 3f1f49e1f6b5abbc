// The environment for a small, complete run of DistilBert_QLoRA.ipynb in tests: a random
// DistilBERT checkpoint (dim 32, 2 layers) holding the real distilbert-base-uncased tokenizer,
// 200 real IMDB reviews (0.8% of the asset train.csv), 64 tokens, the cpu backend, and every
// output (checkpoints, adapter, caches) inside `dir`, never in the repo.
import * as path from 'path';
import { asset } from './assets';
import { writeRandomCheckpoint } from '../../scripts/make-random-checkpoint';

/** The tiny model's shape, for tests that derive parameter counts by hand. */
export const TINY_MODEL = { vocabSize: 30522, dim: 32, nLayers: 2, nHeads: 4, hiddenDim: 64, maxPositions: 128 };

export function tinyNotebookEnv(dir: string): NodeJS.ProcessEnv {
  const model = path.join(dir, 'model');
  writeRandomCheckpoint(model, { ...TINY_MODEL, seed: 1, tokenizerDir: asset('distilbert-base-uncased') });
  // Parameters set outside (a developer's shell) must not change what the tests expect.
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('QLORA_') || k === 'QLORA_ASSETS') env[k] = v;
  return {
    ...env,
    QLORA_BACKEND: 'cpu',
    QLORA_MODEL: model,
    QLORA_DATA: asset('imdb', 'train.csv'),
    QLORA_SAMPLE_FRAC: '0.008',
    QLORA_MAX_LENGTH: '64',
    QLORA_CACHE_DIR: path.join(dir, 'cache'),
    QLORA_OUTPUT_DIR: path.join(dir, 'checkpoints'),
    QLORA_ADAPTER_DIR: path.join(dir, 'trained_model'),
    HF_HUB_OFFLINE: '1',
  };
}
