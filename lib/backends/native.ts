// The project's optional native addon (native/*.c): a GEMM on the system's OpenBLAS, fused
// elementwise kernels (dropout, GELU, LayerNorm) and the fused attention kernel. Compiled at
// `npm install` when a C compiler is present, or here on first use (under a second), into
// native/build/ or, if that is read-only, the user's
// cache. Everything that uses it has a JavaScript path; `loadNative()` says why it is missing.
//
//   $QLORA_NATIVE=0   never load it (forces the JavaScript paths everywhere)
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export interface NativeAddon {
  /** Opens a BLAS library; `coretype` (may be '') is put in OPENBLAS_CORETYPE first. */
  open(lib: string, coretype: string): { core: string; threads: number };
  setNumThreads(n: number): void;
  gemm(
    transA: boolean, transB: boolean, M: number, N: number, K: number, batch: number,
    A: Float32Array, strideA: number, B: Float32Array, strideB: number, C: Float32Array,
    bias: Float32Array | null, activation: number, alpha: number,
  ): void;
  dropout(x: Float32Array, out: Float32Array, key0: number, key1: number, threshold: number, scale: number): void;
  gelu(x: Float32Array, out: Float32Array): void;
  geluGrad(x: Float32Array, dy: Float32Array, out: Float32Array): void;
  layerNorm(x: Float32Array, gamma: Float32Array, beta: Float32Array, y: Float32Array, eps: number): void;
  layerNormGrad(x: Float32Array, gamma: Float32Array, dy: Float32Array, dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array, eps: number): void;
  /** Needs a BLAS opened first (open()). Shape args: B, T, H, D, scale, key0, key1, threshold, dropScale. */
  attention(q: Float32Array, k: Float32Array, v: Float32Array, keep: Float32Array, out: Float32Array, ...args: number[]): void;
  attentionGrad(q: Float32Array, k: Float32Array, v: Float32Array, keep: Float32Array, dO: Float32Array, dq: Float32Array, dk: Float32Array, dv: Float32Array, ...args: number[]): void;
}

const NATIVE_DIR = path.join(__dirname, '..', '..', 'native');
const SOURCES = ['addon.c', 'elementwise.c', 'attention.c', 'common.h'];
const ADDON_NAME = `qlora-native-${process.platform}-${process.arch}.node`;

function isFresh(addon: string): boolean {
  try {
    const built = fs.statSync(addon).mtimeMs;
    return SOURCES.every((f) => built >= fs.statSync(path.join(NATIVE_DIR, f)).mtimeMs);
  } catch {
    return false;
  }
}

/** The compiled addon's path, building it first if needed; throws saying why it cannot. */
function addonPath(): string {
  if (!fs.existsSync(path.join(NATIVE_DIR, 'build.js'))) throw new Error(`native/ sources are missing (${NATIVE_DIR})`);
  const targets = [
    path.join(NATIVE_DIR, 'build', ADDON_NAME),
    path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'distilbert-qlora-ts', ADDON_NAME),
  ];
  const built = targets.find(isFresh);
  if (built) return built;
  let why = '';
  for (const target of targets) {
    const r = spawnSync(process.execPath, [path.join(NATIVE_DIR, 'build.js'), target], { encoding: 'utf8' });
    if (r.status === 0 && fs.existsSync(target)) return target;
    why ||= `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').pop() ?? `exit ${r.status}`;
  }
  throw new Error(why);
}

let loaded: { addon: NativeAddon | null; reason: string } | null = null;

/** The addon, or null with the reason (cached: the first answer stands for the process). */
export function loadNative(): { addon: NativeAddon | null; reason: string } {
  if (loaded) return loaded;
  if (process.env.QLORA_NATIVE === '0') return (loaded = { addon: null, reason: 'disabled by QLORA_NATIVE=0' });
  if (process.platform === 'win32') return (loaded = { addon: null, reason: 'no native addon on Windows' });
  try {
    const file = addonPath();
    // An absolute path, not a sibling module: nothing here for tslab to compile.
    return (loaded = { addon: require(file) as NativeAddon, reason: `native addon ${path.basename(file)}` });
  } catch (e) {
    return (loaded = { addon: null, reason: `native addon unavailable: ${(e as Error).message}` });
  }
}

/** The addon when loaded (elementwise kernels use it when present), else null. */
export function nativeAddon(): NativeAddon | null {
  return loadNative().addon;
}

/** Tests only: force the JavaScript paths (null) or restore the loaded addon (undefined). */
export function overrideNativeForTests(addon: NativeAddon | null | undefined): void {
  if (addon === undefined) loaded = null;
  else loaded = { addon, reason: addon ? 'override' : 'disabled for a test' };
}
