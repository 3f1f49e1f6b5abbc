// Glue the notebook's cells share: re-running a cell without leaking the tensors of its
// previous run, and errors that say what to download and which variable to set.

/** Kept on globalThis: tslab reloads an imported file when a cell imports it again. */
const LATEST = '__qlora_latest__';

/**
 * Makes the object a cell keeps under `key`, disposing the one a previous run of that cell made
 * first, so that re-running the cell (say after `params.r = 16`) frees the old model's tensors
 * instead of leaking them. If `make` throws, nothing is kept.
 */
export async function keepLatest<T extends { dispose(): void }>(key: string, make: () => T | Promise<T>): Promise<T> {
  const store = ((globalThis as Record<string, unknown>)[LATEST] ??= new Map<string, { dispose(): void }>()) as Map<string, { dispose(): void }>;
  const previous = store.get(key);
  store.delete(key);
  previous?.dispose();
  const value = await make();
  store.set(key, value);
  return value;
}

/** What the setup cells need to know when a file is missing: where to get it and which variable to set. */
export function withSetupHint(error: unknown, what: 'model' | 'data'): Error {
  const message = error instanceof Error ? error.message : String(error);
  const hint =
    what === 'model'
      ? 'The model cell needs a DistilBERT checkpoint: on a machine with internet it is downloaded from the Hub on the first run ' +
        '(distilbert-base-uncased, into the Hugging Face cache, shared with Python: $HF_HUB_CACHE, default ~/.cache/huggingface/hub). Offline, download config.json, model.safetensors, tokenizer.json, vocab.txt ' +
        'and tokenizer_config.json from https://huggingface.co/distilbert-base-uncased into one folder and set QLORA_MODEL to it. ' +
        'For a dry run without pretrained weights: npx ts-node --transpile-only scripts/make-random-checkpoint.ts --out data/tiny-distilbert ' +
        '--vocab-size 30522 --max-positions 512 --tokenizer <folder with tokenizer.json and vocab.txt>, then QLORA_MODEL=data/tiny-distilbert.'
      : 'The data cell needs IMDB: on a machine with internet stanfordnlp/imdb is downloaded from the Hub on the first run. Offline, ' +
        'set QLORA_DATA to the Kaggle CSV ("IMDB Dataset.csv"), to aclImdb_v1.tar.gz or to its unpacked aclImdb folder.';
  const wrapped = new Error(`${message}\n\n${hint}`);
  (wrapped as Error & { cause?: unknown }).cause = error;
  return wrapped;
}
