// tfjs' BatchMatMul and _FusedMatMul kernels on the wasm backend, run by a native GEMM engine.
//
// tf.matMul, tf.fused.matMul and their gradients all resolve to these two kernel names, so
// replacing them speeds up every matmul of the model, forward and backward. Inputs and output
// stay on the wasm heap: the engine reads and writes views of it. Semantics follow tfjs'
// kernels exactly: transpose flags, broadcasting of the leading (batch) dimensions, a bias added
// before the activation. Cases the engine does not cover (a non-vector bias, prelu, non-fp32)
// go to the original wasm kernel, which is also what runs when no engine loaded.
import * as tf from '@tensorflow/tfjs';
import { ACTIVATION_CODES, GemmEngine } from './engine';

interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
  activation?: string;
  leakyreluAlpha?: number;
}

const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** numpy/tfjs broadcasting of two shapes; throws like tfjs when they are incompatible. */
function broadcastShape(a: number[], b: number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`matMul: batch dimensions [${a}] and [${b}] cannot be broadcast`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Offset (in matrices) of output batch `i`'s operand, for an operand with batch shape `dims`. */
function batchIndex(i: number, outDims: number[], dims: number[]): number {
  let index = 0;
  let stride = 1;
  for (let d = outDims.length - 1, e = dims.length - 1; d >= 0; d--, e--) {
    const coord = i % outDims[d];
    i = Math.floor(i / outDims[d]);
    if (e >= 0) {
      if (dims[e] !== 1) index += coord * stride;
      stride *= dims[e];
    }
  }
  return index;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: unknown };

/** The matmul itself, shared by both kernels; `bias` is [N] or null. */
function runGemm(engine: GemmEngine, args: KernelArgs, bias: tf.TensorInfo | null, activation: number, alpha: number): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const a = args.inputs.a!;
  const b = args.inputs.b!;
  const { transposeA, transposeB } = args.attrs as MatMulAttrs;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const K = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const Kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (K !== Kb) {
    throw new Error(`Error in matMul: inner shapes (${K}) and (${Kb}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`);
  }
  const dimsA = a.shape.slice(0, -2);
  const dimsB = b.shape.slice(0, -2);
  const outDims = broadcastShape(dimsA, dimsB);
  const batch = size(outDims);
  // Allocate first: growing the wasm heap detaches views taken before.
  const out = backend.makeOutput([...outDims, M, N], 'float32');
  if (batch * M * N === 0) return out;
  const C = backend.typedArrayFromHeap(out) as Float32Array;
  const empty = new Float32Array(0);
  const A = K === 0 ? empty : (backend.typedArrayFromHeap(a) as Float32Array);
  const B = K === 0 ? empty : (backend.typedArrayFromHeap(b) as Float32Array);
  const biasValues = bias ? (backend.typedArrayFromHeap(bias) as Float32Array) : null;
  const batchA = size(dimsA);
  const batchB = size(dimsB);
  const mk = M * K;
  const kn = K * N;
  if (K === 0 || ((batchA === batch || batchA === 1) && (batchB === batch || batchB === 1))) {
    // One call: each operand either has every batch or is repeated (stride 0).
    engine.gemm(transposeA, transposeB, M, N, K, batch, A, batchA === 1 ? 0 : mk, B, batchB === 1 ? 0 : kn, C, biasValues, activation, alpha);
  } else {
    // Mixed broadcasting, e.g. [2, 1] × [1, 3] batches: one call per output matrix.
    const mn = M * N;
    for (let i = 0; i < batch; i++) {
      const ia = batchIndex(i, outDims, dimsA);
      const ib = batchIndex(i, outDims, dimsB);
      engine.gemm(transposeA, transposeB, M, N, K, 1, A.subarray(ia * mk, (ia + 1) * mk), 0, B.subarray(ib * kn, (ib + 1) * kn), 0,
        C.subarray(i * mn, (i + 1) * mn), biasValues, activation, alpha);
    }
  }
  return out;
}

/** Kernel configs to register on 'wasm' in place of `originals` (which handle what the engine cannot). */
export function nativeMatMulKernels(engine: GemmEngine, originals: { batchMatMul: tf.KernelConfig; fusedMatMul: tf.KernelConfig }): tf.KernelConfig[] {
  const batchMatMul = (args: KernelArgs): tf.TensorInfo => {
    const { a, b } = args.inputs;
    if (a!.dtype !== 'float32' || b!.dtype !== 'float32') return originals.batchMatMul.kernelFunc(args as never) as tf.TensorInfo;
    return runGemm(engine, args, null, 0, 0);
  };
  const fusedMatMul = (args: KernelArgs): tf.TensorInfo => {
    const { a, b, bias, preluActivationWeights } = args.inputs;
    const { activation = 'linear', leakyreluAlpha = 0 } = args.attrs as MatMulAttrs;
    const code = ACTIVATION_CODES[activation];
    const N = (args.attrs as MatMulAttrs).transposeB ? b!.shape[b!.shape.length - 2] : b!.shape[b!.shape.length - 1];
    // A bias of N values in the last dimension ([N], [1, N], ...) is what the engine adds.
    const vectorBias = !bias || (bias.dtype === 'float32' && size(bias.shape) === N && bias.shape[bias.shape.length - 1] === N);
    if (a!.dtype !== 'float32' || b!.dtype !== 'float32' || preluActivationWeights || code === undefined || !vectorBias) {
      return originals.fusedMatMul.kernelFunc(args as never) as tf.TensorInfo;
    }
    return runGemm(engine, args, bias ?? null, code, leakyreluAlpha);
  };
  return [
    { kernelName: 'BatchMatMul', backendName: 'wasm', setupFunc: originals.batchMatMul.setupFunc, kernelFunc: batchMatMul as tf.KernelFunc },
    { kernelName: '_FusedMatMul', backendName: 'wasm', setupFunc: originals.fusedMatMul.setupFunc, kernelFunc: fusedMatMul as tf.KernelFunc },
  ];
}
