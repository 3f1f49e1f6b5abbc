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

/**
 * The error a setup cell shows when its model or data cannot be found: the loader's message once,
 * then where to get the files and the one variable to set (QLORA_MODEL for the model and its
 * tokenizer, QLORA_DATA for the data). The cause chain is folded into that one message (the
 * outermost message already quotes the inner ones) and the stack is dropped, so the notebook, its
 * report and the terminal say it once, without internal frames or library options.
 */
export function withSetupHint(error: unknown, what: 'model' | 'data'): Error {
  const variable = what === 'model' ? 'QLORA_MODEL' : 'QLORA_DATA';
  const message = (error instanceof Error ? error.message : String(error))
    .replace(/QLORA_MODEL \/ QLORA_DATA/g, variable)
    .replace(/ ?Offline, or another file layout \(pass hubFiles\)\?/g, '')
    .replace(/ ?\(pass hubFiles\)/g, '');
  const hint =
    what === 'model'
      ? 'The model and its tokenizer come from QLORA_MODEL: a Hub repo id (default distilbert-base-uncased), downloaded on the first ' +
        'run into the Hugging Face cache shared with Python ($HF_HUB_CACHE, default ~/.cache/huggingface/hub), or a local folder. Offline, download config.json, model.safetensors, tokenizer.json, vocab.txt and ' +
        'tokenizer_config.json from https://huggingface.co/distilbert-base-uncased into one folder and set QLORA_MODEL to it. For a dry ' +
        'run without pretrained weights: npx ts-node --transpile-only scripts/make-random-checkpoint.ts --out data/tiny-distilbert ' +
        '--vocab-size 30522 --max-positions 512 --tokenizer <folder with tokenizer.json and vocab.txt>, then QLORA_MODEL=data/tiny-distilbert.'
      : 'The data come from QLORA_DATA: a Hub dataset (default stanfordnlp/imdb), downloaded on the first run, or a local file. ' +
        'Offline, set QLORA_DATA to the Kaggle CSV ("IMDB Dataset.csv"), to aclImdb_v1.tar.gz or to its unpacked aclImdb folder.';
  const wrapped = new Error(`${message}\n\n${hint}`);
  wrapped.stack = `Error: ${wrapped.message}`; // what tslab prints: the message, no frames, no "cause:" repeats
  return wrapped;
}
