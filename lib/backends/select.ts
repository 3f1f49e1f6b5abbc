// Picks the fastest TensorFlow.js backend that actually works on this machine.
//
// Order (first that loads wins): tfjs-node-gpu (TensorFlow with CUDA), tfjs-node (TensorFlow on
// CPU), webgpu (Dawn on a real GPU adapter), wasm, cpu. A backend that fails to load falls
// through to the next, and the reason is kept so the user sees why (`BackendChoice.tried`).
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
// Imported, not require()d: tslab compiles only the .ts files that modules import statically.
import { registerWasmTrainingKernels } from './wasm-kernels';
import { installGemm } from './gemm/select';

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
export const BACKEND_ORDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'];

export interface BackendAttempt {
  name: BackendName;
  ok: boolean;
  reason: string;
}

export interface BackendChoice {
  /** Our name for the backend that was chosen. */
  name: BackendName;
  /** tfjs' own name for it (`tf.getBackend()`): 'tensorflow', 'webgpu', 'wasm' or 'cpu'. */
  tfName: string;
  /** A device description, e.g. the GPU adapter, when known. */
  device: string;
  /** Every backend tried, in order, with why it was or was not taken. */
  tried: BackendAttempt[];
  /** One line for logs and the notebook. */
  summary: string;
}

export interface SelectBackendOptions {
  /** A backend name, a comma-separated preference list, or 'auto' (default: $QLORA_BACKEND or 'auto'). */
  preference?: string;
  /** Allow webgpu on a software adapter (llvmpipe/SwiftShader): correct but slow. Default false in 'auto'. */
  allowSoftwareWebGPU?: boolean;
  /** Print the summary line (default true). */
  verbose?: boolean;
}

function parsePreference(pref: string): BackendName[] {
  const p = pref.trim().toLowerCase();
  if (p === '' || p === 'auto') return [...BACKEND_ORDER];
  const names = p.split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of names) {
    if (!(BACKEND_ORDER as readonly string[]).includes(n)) {
      throw new Error(`Unknown backend '${n}' (QLORA_BACKEND / preference). Use one of: auto, ${BACKEND_ORDER.join(', ')}.`);
    }
  }
  return names as BackendName[];
}

/** Loads a tfjs-node package, making sure it is the real thing and its native binding is present. */
function requireTfjsNode(pkg: '@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node'): void {
  let pkgJson: { name?: string };
  try {
    pkgJson = require(`${pkg}/package.json`);
  } catch {
    throw new Error(`${pkg} is not installed (it downloads libtensorflow at install time; offline installs skip it)`);
  }
  // danfojs-node's offline install aliases @tensorflow/tfjs-node to plain @tensorflow/tfjs.
  if (pkgJson.name !== pkg) {
    throw new Error(`${pkg} here is an alias of ${pkgJson.name} (installed for danfojs-node), not TensorFlow`);
  }
  try {
    require(pkg);
  } catch (e) {
    throw new Error(`${pkg} failed to load its native binding: ${(e as Error).message.split('\n')[0]}`);
  }
}

let webgpuInfo = '';

interface DawnModule {
  create: (flags: string[]) => unknown;
  globals: Record<string, unknown>;
}

/**
 * The npm `webgpu` package is an ES module whose index only re-exports its native `dawn.node`.
 * Plain Node 20.19+ can require() it, jest's module loader cannot: load the addon directly then.
 */
function loadDawn(): DawnModule {
  try {
    return require('webgpu');
  } catch (e) {
    const platform = process.platform === 'darwin' ? 'darwin-universal' : `${process.platform}-${process.arch}`;
    const dir = path.dirname(require.resolve('webgpu/package.json'));
    try {
      return require(path.join(dir, 'dist', platform, 'dawn.node'));
    } catch {
      throw e;
    }
  }
}

/** Sets up the `navigator.gpu` global from the npm `webgpu` package (Dawn) and registers tfjs' webgpu backend. */
async function prepareWebGPU(allowSoftware: boolean): Promise<void> {
  let dawn: DawnModule;
  try {
    dawn = loadDawn();
  } catch (e) {
    throw new Error(`the 'webgpu' package (Dawn) is not installed or failed to load: ${(e as Error).message.split('\n')[0]}`);
  }
  const g = globalThis as any;
  if (!g.navigator?.gpu) {
    Object.assign(globalThis, dawn.globals);
    const flags = (process.env.QLORA_DAWN_FLAGS ?? '').split(',').filter(Boolean);
    const gpu = dawn.create(flags) as any;
    if (!g.navigator) g.navigator = {};
    // Software adapters (Mesa on OpenGL) only offer WebGPU's 'compatibility' feature level.
    const requestAdapter = gpu.requestAdapter.bind(gpu);
    gpu.requestAdapter = (opts: Record<string, unknown> = {}) =>
      requestAdapter({ ...opts, featureLevel: process.env.QLORA_WEBGPU_FEATURE_LEVEL ?? opts.featureLevel });
    Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  }
  const adapter = await g.navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('no WebGPU adapter found (no GPU driver visible to Dawn)');
  const info = adapter.info ?? {};
  webgpuInfo = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ');
  const software = adapter.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader|software/i.test(webgpuInfo);
  if (software && !allowSoftware) {
    throw new Error(`the WebGPU adapter is a software renderer (${webgpuInfo || 'fallback adapter'}): slower than wasm`);
  }
  require('@tensorflow/tfjs-backend-webgpu');
}

async function prepareWasm(): Promise<void> {
  const wasm = require('@tensorflow/tfjs-backend-wasm');
  const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  wasm.setWasmPaths(path.join(dir, 'dist') + path.sep);
  // Training needs a kernel the wasm backend lacks (the gradient of the embedding lookup).
  registerWasmTrainingKernels();
}

/** The wasm backend's device line: its GEMM engine (native when one loads) and why. */
function wasmDevice(): string {
  const gemm = installGemm();
  return gemm.name === 'wasm' ? `WebAssembly SIMD, 1 thread; ${gemm.summary}` : `WebAssembly SIMD + ${gemm.summary}`;
}

async function tryBackend(name: BackendName, allowSoftwareWebGPU: boolean): Promise<string> {
  switch (name) {
    case 'tensorflow-gpu':
      requireTfjsNode('@tensorflow/tfjs-node-gpu');
      await setOrThrow('tensorflow');
      return 'TensorFlow (CUDA)';
    case 'tensorflow':
      requireTfjsNode('@tensorflow/tfjs-node');
      await setOrThrow('tensorflow');
      return 'TensorFlow (CPU)';
    case 'webgpu':
      await prepareWebGPU(allowSoftwareWebGPU);
      await setOrThrow('webgpu');
      return webgpuInfo || 'WebGPU adapter';
    case 'wasm':
      await prepareWasm();
      await setOrThrow('wasm');
      return wasmDevice();
    case 'cpu':
      await setOrThrow('cpu');
      return 'plain JavaScript';
  }
}

async function setOrThrow(tfName: string): Promise<void> {
  const ok = await tf.setBackend(tfName);
  if (!ok) throw new Error(`tf.setBackend('${tfName}') failed`);
  await tf.ready();
}

const TF_NAMES: Record<BackendName, string> = {
  'tensorflow-gpu': 'tensorflow',
  tensorflow: 'tensorflow',
  webgpu: 'webgpu',
  wasm: 'wasm',
  cpu: 'cpu',
};

/**
 * Chooses and activates a backend. `preference` (or $QLORA_BACKEND) may name one backend, a
 * comma-separated list to try in order, or 'auto'. Throws, listing every reason, if none loads.
 */
export async function selectBackend(options: SelectBackendOptions = {}): Promise<BackendChoice> {
  const preference = options.preference ?? process.env.QLORA_BACKEND ?? 'auto';
  const order = parsePreference(preference);
  const explicitWebGPU = preference.toLowerCase().includes('webgpu');
  const allowSoftware = options.allowSoftwareWebGPU ?? explicitWebGPU;
  const tried: BackendAttempt[] = [];
  for (const name of order) {
    try {
      const device = await tryBackend(name, allowSoftware);
      tried.push({ name, ok: true, reason: device });
      const skipped = tried.filter((t) => !t.ok).map((t) => `${t.name}: ${t.reason}`);
      const summary =
        `tfjs backend: ${name} (${device})` + (skipped.length ? ` — skipped ${skipped.join('; ')}` : '');
      if (options.verbose ?? true) console.log(summary);
      return { name, tfName: TF_NAMES[name], device, tried, summary };
    } catch (e) {
      tried.push({ name, ok: false, reason: (e as Error).message });
    }
  }
  throw new Error(
    `No tfjs backend could be loaded (preference '${preference}'):\n` +
      tried.map((t) => `  ${t.name}: ${t.reason}`).join('\n'),
  );
}

/** Activates exactly one backend (tests and benches); throws with the reason if it cannot load. */
export async function useBackend(name: BackendName, opts: { allowSoftwareWebGPU?: boolean } = {}): Promise<BackendChoice> {
  return selectBackend({ preference: name, verbose: false, allowSoftwareWebGPU: opts.allowSoftwareWebGPU ?? true });
}
