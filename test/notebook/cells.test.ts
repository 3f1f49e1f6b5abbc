// Glue the notebook's cells share (lib/notebook/cells.ts): safe re-runs and setup hints.
import { keepLatest, withSetupHint } from '../../lib/notebook/cells';

describe('re-running cells', () => {
  test('keepLatest disposes what the previous run of the cell made, once, before making the new one', async () => {
    const events: string[] = [];
    const make = (name: string) => ({ name, dispose: () => events.push(`dispose ${name}`) });
    const first = await keepLatest('test-slot', () => {
      events.push('make first');
      return make('first');
    });
    expect(first.name).toBe('first');
    await keepLatest('other-slot', () => make('other'));
    const second = await keepLatest('test-slot', async () => {
      events.push('make second');
      return make('second');
    });
    expect(second.name).toBe('second');
    expect(events).toEqual(['make first', 'dispose first', 'make second']);
    // A failing run keeps nothing, and the next run has nothing to dispose twice.
    await expect(keepLatest('test-slot', () => Promise.reject(new Error('no model')))).rejects.toThrow('no model');
    await keepLatest('test-slot', () => make('third'));
    expect(events).toEqual(['make first', 'dispose first', 'make second', 'dispose second']);
  });

  test('setup hints say what to download and which variable to set', () => {
    const model = withSetupHint(new Error("Offline mode and 'config.json' is not in the cache."), 'model');
    expect(model.message).toContain("Offline mode and 'config.json' is not in the cache.");
    expect(model.message).toContain('set QLORA_MODEL to it');
    expect(model.message).toContain('model.safetensors');
    const data = withSetupHint('not found', 'data');
    expect(data.message).toContain('set QLORA_DATA to the Kaggle CSV');
  });

  test('the hint says the error once: no cause chain, no frames, no library options, only its own variable', () => {
    const inner = new Error("none of 'tokenizer.json' or 'vocab.txt' is in the cache. Put one at /c/tokenizer.json, or point QLORA_MODEL / QLORA_DATA at a local folder that has it.");
    const outer = new Error(`loadTokenizer('distilbert-base-uncased'): ${inner.message}`, { cause: inner });
    const model = withSetupHint(outer, 'model');
    expect(model.stack).toBe(`Error: ${model.message}`);
    expect((model as Error & { cause?: unknown }).cause).toBeUndefined();
    expect(model.message.split("none of 'tokenizer.json'")).toHaveLength(2); // said once
    expect(model.message).toContain('or point QLORA_MODEL at a local folder');
    expect(model.message).not.toContain('QLORA_DATA');
    const data = withSetupHint(new Error('Could not get x.parquet: offline. Offline, or another file layout (pass hubFiles)? See below.'), 'data');
    expect(data.message).toBe(
      'Could not get x.parquet: offline. See below.\n\nThe data come from QLORA_DATA: a Hub dataset (default stanfordnlp/imdb), downloaded on ' +
        'the first run, or a local file. Offline, set QLORA_DATA to the Kaggle CSV ("IMDB Dataset.csv"), to aclImdb_v1.tar.gz or to its unpacked aclImdb folder.',
    );
  });
});
