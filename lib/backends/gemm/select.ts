// Chooses the GEMM under tfjs' wasm matmul kernels: a native engine when one loads, else the
// plain wasm kernel, and says which and why (printed once by selectBackend).
//
//   $QLORA_GEMM           auto (default) | openblas | onnxruntime | wasm (tfjs' own, no engine)
//   $QLORA_GEMM_THREADS   BLAS threads (default: every core, as OpenBLAS and PyTorch do; on a
//                         machine busy with other work 1 can be faster, see bench/README.md)
import * as os from 'os';
import * as tf from '@tensorflow/tfjs';
import { GemmEngine } from './engine';
import { nativeMatMulKernels } from './kernels';
import { loadOpenBlas } from './openblas';
import { loadOnnxRuntime } from './onnxruntime';

export type GemmName = 'openblas' | 'onnxruntime' | 'wasm';
const ORDER: GemmName[] = ['openblas', 'onnxruntime'];

export interface GemmChoice {
  /** The engine now under BatchMatMul/_FusedMatMul on wasm ('wasm' = tfjs' own kernel). */
  name: GemmName;
  /** e.g. 'libopenblas.so.0, core SkylakeX (...), 1 thread'. */
  detail: string;
  /** Engines tried before, with why each was not taken. */
  skipped: string[];
  /** One line for logs. */
  summary: string;
}

let originals: { batchMatMul: tf.KernelConfig; fusedMatMul: tf.KernelConfig } | null = null;
let current: GemmChoice | null = null;
let engine: GemmEngine | null = null;

function loadEngine(name: GemmName, threads: number): GemmEngine {
  if (name === 'openblas') return loadOpenBlas(threads);
  if (name === 'onnxruntime') return loadOnnxRuntime(threads);
  throw new Error(`unknown engine ${name}`);
}

function register(configs: tf.KernelConfig[]): void {
  for (const c of configs) {
    if (tf.getKernel(c.kernelName, 'wasm')) tf.unregisterKernel(c.kernelName, 'wasm');
    tf.registerKernel(c);
  }
}

/**
 * Puts the best available GEMM engine under tfjs' wasm matmul kernels (idempotent: the first
 * choice stays until `preference` asks for another). Needs @tensorflow/tfjs-backend-wasm to be
 * imported (its kernels registered). Never throws for a missing engine: falls back to 'wasm'.
 */
export function installGemm(preference = process.env.QLORA_GEMM ?? 'auto'): GemmChoice {
  const pref = preference.trim().toLowerCase() || 'auto';
  if (current && (pref === 'auto' || pref === current.name)) return current;
  if (!['auto', 'wasm', ...ORDER].includes(pref)) {
    throw new Error(`Unknown GEMM engine '${preference}' ($QLORA_GEMM): use auto, openblas, onnxruntime or wasm`);
  }
  if (!originals) {
    const batchMatMul = tf.getKernel('BatchMatMul', 'wasm');
    const fusedMatMul = tf.getKernel('_FusedMatMul', 'wasm');
    if (!batchMatMul || !fusedMatMul) throw new Error('installGemm: the wasm backend is not loaded (import @tensorflow/tfjs-backend-wasm first)');
    originals = { batchMatMul, fusedMatMul };
  }
  const threads = Math.max(1, Number(process.env.QLORA_GEMM_THREADS ?? os.cpus().length) || 1);
  const skipped: string[] = [];
  engine = null;
  for (const name of pref === 'auto' ? ORDER : pref === 'wasm' ? [] : [pref as GemmName]) {
    try {
      engine = loadEngine(name, threads);
      break;
    } catch (e) {
      skipped.push(`${name}: ${(e as Error).message}`);
    }
  }
  if (engine) {
    register(nativeMatMulKernels(engine, originals));
    const detail = engine.detail;
    const summary = `GEMM engine: ${engine.name} (${detail})` + (skipped.length ? ` — skipped ${skipped.join('; ')}` : '');
    current = { name: engine.name as GemmName, detail, skipped, summary };
  } else {
    register([originals.batchMatMul, originals.fusedMatMul]);
    const why = pref === 'wasm' ? 'asked for by QLORA_GEMM=wasm' : skipped.join('; ');
    current = { name: 'wasm', detail: "tfjs' own kernel, 1 thread", skipped, summary: `GEMM engine: wasm (tfjs' own kernel) — ${why}` };
  }
  return current;
}

/** The GEMM choice in effect on wasm, or null before installGemm ran. */
export function currentGemm(): GemmChoice | null {
  return current;
}

/** True when matmuls on the active backend run on a native engine (transpose flags then cost nothing). */
export function hasNativeGemm(): boolean {
  return current !== null && current.name !== 'wasm' && tf.getBackend() === 'wasm';
}
