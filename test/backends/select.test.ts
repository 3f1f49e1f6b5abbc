import * as tf from '@tensorflow/tfjs';
import { selectBackend, useBackend } from '../../lib/backends/select';

describe('selectBackend', () => {
  it('falls through unavailable backends to one that loads, saying why each was skipped', async () => {
    // tfjs-node(-gpu) cannot install offline; in this repo @tensorflow/tfjs-node is danfojs' alias.
    const choice = await selectBackend({ preference: 'tensorflow-gpu,tensorflow,cpu', verbose: false });
    expect(choice.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(choice.tried.map((t) => t.name)).toEqual(['tensorflow-gpu', 'tensorflow', 'cpu']);
    expect(choice.tried[0].ok).toBe(false);
    expect(choice.tried[0].reason).toMatch(/tfjs-node-gpu/);
    expect(choice.summary).toMatch(/skipped tensorflow-gpu/);
  });

  it('activates wasm and computes the same matmul as cpu', async () => {
    const a = [[1, 2, 3], [4, 5, 6]];
    const b = [[1, 0], [0, 1], [2, -1]];
    await useBackend('cpu');
    const cpu = tf.matMul(tf.tensor2d(a), tf.tensor2d(b)).arraySync();
    await useBackend('wasm');
    expect(tf.getBackend()).toBe('wasm');
    const wasm = tf.matMul(tf.tensor2d(a), tf.tensor2d(b)).arraySync();
    expect(wasm).toEqual([[7, -1], [16, -1]]);
    expect(wasm).toEqual(cpu);
  });

  it('rejects an unknown backend name with the list of valid ones', async () => {
    await expect(selectBackend({ preference: 'cuda', verbose: false })).rejects.toThrow(/Unknown backend 'cuda'.*wasm/);
  });
});
