// The onnxruntime-node engine (prebuilt MLAS kernels for Linux, macOS and Windows): placeholder.
import { GemmEngine } from './engine';

export function loadOnnxRuntime(_threads: number): GemmEngine {
  throw new Error('onnxruntime-node is not installed');
}
