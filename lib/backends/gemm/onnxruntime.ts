// The onnxruntime-node engine: Microsoft's prebuilt MLAS GEMM (Linux x64/arm64, macOS, Windows),
// for machines where the OpenBLAS addon cannot be built or OpenBLAS is missing.
//
// onnxruntime-node's public `session.run` is async, but tfjs kernels are synchronous. Its
// native binding's run is synchronous (the JS wrapper only defers it with setImmediate), so the
// binding is used directly. One tiny ONNX graph per transpose combination — MatMul over
// [batch, rows, cols] with symbolic dims, a Transpose in front where asked — written out by
// hand as protobuf below, compiled once. Inputs and the pre-allocated output are views of the
// wasm heap: MLAS reads and writes them in place. Bias and activation run afterwards in JS.
import * as path from 'path';
import { GemmEngine } from './engine';

// ---------------------------------------------------------------------------------------------
// A minimal protobuf writer, enough for an ONNX ModelProto (onnx/onnx.proto field numbers).

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}
const field = (num: number, bytes: number[]): number[] => [...varint((num << 3) | 2), ...varint(bytes.length), ...bytes];
const str = (num: number, s: string): number[] => field(num, [...Buffer.from(s, 'utf8')]);
const int = (num: number, n: number): number[] => [...varint(num << 3), ...varint(n)];

/** ValueInfoProto of a float tensor with symbolic dims (TypeProto.tensor_type, elem_type 1 = FLOAT). */
function valueInfo(graphField: number, name: string, dims: string[]): number[] {
  const shape = dims.flatMap((d) => field(1, str(2, d)));
  return field(graphField, [...str(1, name), ...field(2, field(1, [...int(1, 1), ...field(2, shape)]))]);
}

/** Y = op(A)·op(B) for A [a0, a1, a2], B [b0, b1, b2] (batch broadcasts as numpy), opset 13. */
function matMulModel(transA: boolean, transB: boolean): Uint8Array {
  const perm = field(5, [...str(1, 'perm'), ...int(8, 0), ...int(8, 2), ...int(8, 1), ...int(20, 7)]); // INTS
  const nodes: number[] = [];
  const transpose = (x: string) => nodes.push(...field(1, [...str(1, x), ...str(2, `${x}t`), ...str(4, 'Transpose'), ...perm]));
  if (transA) transpose('A');
  if (transB) transpose('B');
  nodes.push(...field(1, [...str(1, transA ? 'At' : 'A'), ...str(1, transB ? 'Bt' : 'B'), ...str(2, 'Y'), ...str(4, 'MatMul')]));
  const graph = [
    ...nodes,
    ...str(2, 'gemm'),
    ...valueInfo(11, 'A', ['a0', 'a1', 'a2']),
    ...valueInfo(11, 'B', ['b0', 'b1', 'b2']),
    ...valueInfo(12, 'Y', ['y0', 'y1', 'y2']),
  ];
  return Uint8Array.from([...int(1, 8), ...field(8, [...str(1, ''), ...int(2, 13)]), ...field(7, graph)]);
}

// ---------------------------------------------------------------------------------------------

/**
 * The tensor objects the binding reads and creates. onnxruntime-common's Tensor checks
 * `instanceof Float32Array`, which fails across realms (the binding makes its arrays in Node's
 * main realm; jest and notebook kernels run code in vm contexts), so this plain class stands in.
 */
class OrtTensor {
  readonly location = 'cpu';
  constructor(readonly type: string, readonly data: Float32Array, readonly dims: number[]) {}
}

interface Binding {
  initOrtOnce(logLevel: number, tensorCtor: unknown, isMainThread: boolean): void;
  InferenceSession: new () => BindingSession;
}
interface BindingSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: object): void;
  run(feeds: Record<string, unknown>, fetches: Record<string, unknown>, options: object): Record<string, unknown>;
}

function activate(C: Float32Array, bias: Float32Array | null, activation: number, alpha: number, N: number): void {
  if (bias) for (let i = 0; i < C.length; i++) C[i] += bias[i % N];
  if (activation === 0) return;
  for (let i = 0; i < C.length; i++) {
    const x = C[i];
    C[i] = activation === 1 ? Math.max(x, 0)
      : activation === 2 ? Math.min(Math.max(x, 0), 6)
      : activation === 3 ? (x < 0 ? alpha * x : x)
      : activation === 4 ? 1 / (1 + Math.exp(-x))
      : x < 0 ? Math.exp(x) - 1 : x; // 5: elu
  }
}

/** Loads onnxruntime-node's binding and compiles the four graphs; throws saying why not. */
export function loadOnnxRuntime(threads: number): GemmEngine {
  let dir: string;
  try {
    dir = path.dirname(require.resolve('onnxruntime-node/package.json'));
  } catch {
    throw new Error('onnxruntime-node is not installed (npm install onnxruntime-node)');
  }
  let binding: Binding;
  let version: string;
  try {
    // What onnxruntime-node's dist/binding.js loads, minus its onnxruntime-common Tensor.
    binding = require(path.join(dir, 'bin', 'napi-v6', process.platform, process.arch, 'onnxruntime_binding.node')) as Binding;
    binding.initOrtOnce(3 /* errors only */, OrtTensor, true);
    version = (require(path.join(dir, 'package.json')) as { version: string }).version;
  } catch (e) {
    throw new Error(`onnxruntime-node failed to load its native binding: ${(e as Error).message.split('\n')[0]}`);
  }
  const SessionCtor = binding.InferenceSession;
  const sessions = new Map<string, BindingSession>();
  const session = (ta: boolean, tb: boolean): BindingSession => {
    const key = `${ta}${tb}`;
    let s = sessions.get(key);
    if (!s) {
      s = new SessionCtor();
      const model = matMulModel(ta, tb);
      s.loadModel(model.buffer as ArrayBuffer, model.byteOffset, model.byteLength, {
        intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', executionProviders: ['cpu'],
      });
      sessions.set(key, s);
    }
    return s;
  };
  session(false, false); // fail here, at selection time, not in the first matmul
  const gemm: GemmEngine['gemm'] = (ta, tb, M, N, K, batch, A, sa, B, sb, C, bias, activation, alpha) => {
    if (batch * M * N === 0) return;
    if (K === 0) {
      C.fill(0);
    } else {
      const bA = sa === 0 ? 1 : batch;
      const bB = sb === 0 ? 1 : batch;
      const feeds = {
        A: new OrtTensor('float32', A.subarray(0, bA * M * K), ta ? [bA, K, M] : [bA, M, K]),
        B: new OrtTensor('float32', B.subarray(0, bB * K * N), tb ? [bB, N, K] : [bB, K, N]),
      };
      session(ta, tb).run(feeds, { Y: new OrtTensor('float32', C.subarray(0, batch * M * N), [batch, M, N]) }, {});
    }
    if (bias || activation) activate(C.subarray(0, batch * M * N), bias, activation, alpha, N);
  };
  return { name: 'onnxruntime', detail: `onnxruntime-node ${version} (MLAS), ${threads} thread${threads > 1 ? 's' : ''}`, gemm };
}
