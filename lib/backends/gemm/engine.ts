// The contract between tfjs' matmul kernels (kernels.ts) and a native GEMM library.
//
// An engine multiplies row-major fp32 matrices that already sit in memory (views of the wasm
// heap): no copies, synchronous, as tfjs kernels must be.

/** tfjs' fusable activations (`_FusedMatMul`'s `activation` attr), by the code engines take. */
export const ACTIVATION_CODES: Record<string, number> = { linear: 0, relu: 1, relu6: 2, leakyrelu: 3, sigmoid: 4, elu: 5 };

export interface GemmEngine {
  /** Short name: 'openblas' or 'onnxruntime'. */
  readonly name: string;
  /** What runs underneath, for logs: e.g. 'OpenBLAS, core SkylakeX, 1 thread'. */
  readonly detail: string;
  /**
   * For each i < batch: C[i] = act(op(A[i])·op(B[i]) + bias), where op transposes when asked,
   * A[i] starts at i·strideA (0 repeats one matrix: broadcasting), B[i] at i·strideB, C[i] at
   * i·M·N. A is [M, K] ([K, M] when transA), B is [K, N] ([N, K] when transB), C is [M, N].
   * `bias` is [N] or null; `activation` an ACTIVATION_CODES value; `alpha` leakyrelu's slope.
   */
  gemm(
    transA: boolean, transB: boolean, M: number, N: number, K: number, batch: number,
    A: Float32Array, strideA: number, B: Float32Array, strideB: number, C: Float32Array,
    bias: Float32Array | null, activation: number, alpha: number,
  ): void;
}
