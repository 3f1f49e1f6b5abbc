// Plumbing for our custom tfjs kernels (NF4 dequantization, seeded dropout, ...): one host loop
// serves both cpu and wasm, and a WGSL program serves webgpu. The backends' internals used here
// (readSync/makeTensorInfo, makeOutput/typedArrayFromHeap, runWebGPUProgram) are the ones their
// own kernels use; they are typed loosely on purpose, as tfjs does not export those types.
import * as tf from '@tensorflow/tfjs';

/** The output shape of a kernel from its attributes and inputs. */
export type ShapeOf = (attrs: unknown, inputs: tf.NamedTensorInfoMap) => number[];

export type TypedInputs = Record<string, Float32Array | Int32Array>;
export type HostLoop = (inputs: TypedInputs, attrs: unknown, out: Float32Array) => void;
export type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: unknown };

export interface CpuBackendLike {
  readSync(dataId: object): unknown;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

export interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array;
}

export interface WebGPUBackendLike {
  runWebGPUProgram(program: object, inputs: tf.TensorInfo[], outputDtype: tf.DataType, uniforms: { type: string; data: number[] }[]): tf.TensorInfo;
}

/** The cpu kernel: run the loop on the backend's own typed arrays, return a new fp32 tensor. */
export function cpuKernel(loop: HostLoop, shapeOf: ShapeOf): tf.KernelFunc {
  return ({ inputs, backend, attrs }: KernelArgs) => {
    const cpu = backend as CpuBackendLike;
    const arrays: TypedInputs = {};
    for (const [name, info] of Object.entries(inputs)) arrays[name] = cpu.readSync(info!.dataId) as Float32Array | Int32Array;
    const shape = shapeOf(attrs, inputs);
    const out = new Float32Array(shape.reduce((x, y) => x * y, 1));
    loop(arrays, attrs, out);
    return cpu.makeTensorInfo(shape, 'float32', out);
  };
}

/** The wasm kernel: the same loop over views of the wasm heap (no copies in or out). */
export function wasmKernel(loop: HostLoop, shapeOf: ShapeOf): tf.KernelFunc {
  return ({ inputs, backend, attrs }: KernelArgs) => {
    const wasm = backend as WasmBackendLike;
    // Allocate first: growing the wasm heap detaches views taken before.
    const output = wasm.makeOutput(shapeOf(attrs, inputs), 'float32');
    const arrays: TypedInputs = {};
    for (const [name, info] of Object.entries(inputs)) arrays[name] = wasm.typedArrayFromHeap(info!);
    loop(arrays, attrs, wasm.typedArrayFromHeap(output) as Float32Array);
    return output;
  };
}

/** The webgpu kernel: a program in tfjs-backend-webgpu's interface (see its unary_op_webgpu.ts). */
export function webgpuKernel(inputNames: string[], programOf: (attrs: unknown, inputs: tf.NamedTensorInfoMap) => WebGPUProgramSpec): tf.KernelFunc {
  return ({ inputs, backend, attrs }: KernelArgs) => {
    const spec = programOf(attrs, inputs);
    const size = spec.outputShape.reduce((x, y) => x * y, 1);
    const workgroupSize: [number, number, number] = [128, 1, 1];
    const program = {
      variableNames: spec.variableNames,
      outputShape: spec.outputShape,
      shaderKey: spec.shaderKey,
      dispatchLayout: { x: spec.outputShape.map((_, i) => i) }, // flat: main(index) gets the output index
      dispatch: [Math.ceil(size / workgroupSize[0]), 1, 1],
      workgroupSize,
      size: true,
      uniforms: spec.uniforms.map(([name]) => `${name} : i32,`).join(' '),
      getUserCode: () => spec.userCode,
    };
    // One uniform entry per scalar, so each is laid out as a plain i32 field of the struct.
    const uniforms = spec.uniforms.map(([, value]) => ({ type: 'int32', data: [value] }));
    return (backend as WebGPUBackendLike).runWebGPUProgram(program, inputNames.map((n) => inputs[n]!), 'float32', uniforms);
  };
}

export interface WebGPUProgramSpec {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  uniforms: [string, number][];
  userCode: string;
}

/** Registers each [kernelName, backendName, kernelFunc] once (re-imports are harmless). */
export function registerKernels(kernels: [string, string, tf.KernelFunc][]): void {
  // Registering for a backend that is not loaded is fine: tfjs consults it only when that backend is active.
  for (const [kernelName, backendName, kernelFunc] of kernels) {
    if (!tf.getKernel(kernelName, backendName)) tf.registerKernel({ kernelName, backendName, kernelFunc });
  }
}
