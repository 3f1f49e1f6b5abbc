// Kernels the tfjs wasm backend lacks but training needs, registered from JavaScript.
//
// `UnsortedSegmentSum` is the gradient of `gather`: without it a trainable embedding (PEFT's
// modules_to_save = ['word_embeddings']) cannot be trained on wasm. It is a scatter-add, done here
// in a plain loop over the wasm heap: cheap next to the matmuls around it.
//
// `Identity` replaces tfjs' own wasm kernel, which copies the data: tfjs clones (Identity) every
// tensor it saves for the backward pass, ~740 copies per DistilBERT training step (~0.2 s).
// Sharing the buffer and counting references is what the cpu backend does: no kernel writes
// into its inputs, so a shared buffer is never changed under a reader.
import * as tf from '@tensorflow/tfjs';

interface WasmBackendLike {
  incRef(dataId: object): void;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** out[segmentIds[i], ...] += x[i, ...]; rows with an id outside [0, numSegments) are dropped, as in TF. */
function unsortedSegmentSum({ inputs, attrs, backend }: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): tf.TensorInfo {
  const wasm = backend as WasmBackendLike;
  const x = inputs.x!;
  const segmentIds = inputs.segmentIds!;
  const numSegments = (attrs as { numSegments: number }).numSegments;
  const rows = segmentIds.shape.reduce((a, b) => a * b, 1);
  const innerShape = x.shape.slice(segmentIds.shape.length);
  const inner = innerShape.reduce((a, b) => a * b, 1);
  // Allocate first: growing the wasm heap detaches views taken before it.
  const out = wasm.makeOutput([numSegments, ...innerShape], x.dtype);
  const outValues = wasm.typedArrayFromHeap(out);
  const xValues = wasm.typedArrayFromHeap(x);
  const ids = wasm.typedArrayFromHeap(segmentIds);
  outValues.fill(0);
  for (let r = 0; r < rows; r++) {
    const s = ids[r];
    if (s < 0 || s >= numSegments) continue;
    const src = r * inner;
    const dst = s * inner;
    for (let k = 0; k < inner; k++) outValues[dst + k] += xValues[src + k];
  }
  return out;
}

/** A new tensor on the same buffer (string tensors keep tfjs' copy). */
function sharedIdentity(original: tf.KernelConfig): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === 'string') return original.kernelFunc(args) as tf.TensorInfo;
    (args.backend as WasmBackendLike).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

let identityShared = false;

/** Registers the missing kernels on the wasm backend (idempotent; harmless if wasm is never used). */
export function registerWasmTrainingKernels(): void {
  if (!tf.getKernel('UnsortedSegmentSum', 'wasm')) {
    tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSum as tf.KernelFunc });
  }
  const identity = tf.getKernel('Identity', 'wasm');
  if (identity && !identityShared) {
    tf.unregisterKernel('Identity', 'wasm');
    tf.registerKernel({ ...identity, kernelFunc: sharedIdentity(identity) });
    identityShared = true;
  }
}
