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
});
