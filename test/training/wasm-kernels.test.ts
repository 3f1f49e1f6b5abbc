// The UnsortedSegmentSum kernel we add to wasm (the gradient of gather, i.e. of a trainable
// embedding), against hand-computed values.
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../../lib/backends/select';
import { registerWasmTrainingKernels } from '../../lib/backends/wasm-kernels';

test('embedding gradient on wasm: rows hit twice get twice the upstream gradient, unused rows 0', async () => {
  registerWasmTrainingKernels();
  await useBackend('wasm');
  const table = tf.variable(tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8]]), true, 'wasm-test/embedding');
  const ids = tf.tensor1d([1, 3, 1], 'int32');
  const weights = tf.tensor2d([[1, 10], [100, 1000], [2, 20]]); // upstream gradient of each gathered row
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(tf.gather(table, ids), weights)), [table]);
  expect((await value.data())[0]).toBe(3 + 40 + 700 + 8000 + 6 + 80);
  expect(Array.from(await grads['wasm-test/embedding'].data())).toEqual([0, 0, 3, 30, 0, 0, 100, 1000]);
  // Direct call, with an out-of-range id dropped as in TensorFlow, and int32 values.
  const summed = tf.unsortedSegmentSum(tf.tensor2d([[1, 2], [3, 4], [5, 6]], [3, 2], 'int32'), tf.tensor1d([2, 0, 7], 'int32'), 3);
  expect(summed.dtype).toBe('int32');
  expect(Array.from(await summed.data())).toEqual([3, 4, 0, 0, 1, 2]);
  tf.dispose([table, ids, weights, value, grads['wasm-test/embedding'], summed]);
});
