// The OpenBLAS engine: native/addon.c (a small N-API addon, lib/backends/native.ts) calling the
// system's cblas_sgemm, opened at run time.
//
// Kernel choice: OpenBLAS reads OPENBLAS_CORETYPE once, when it loads. Some VMs hide the CPU
// model and it then falls back to SSE3 "Prescott" kernels, ~4.5× slower than the AVX-512 ones
// the CPU has (environment.md). So, unless the user set it, the core type is derived here from
// the instruction sets /proc/cpuinfo lists, before the library is opened.
import * as fs from 'fs';
import * as path from 'path';
import { GemmEngine } from './engine';
import { loadNative } from '../native';

/** OpenBLAS libraries to try, most specific first; $QLORA_BLAS_LIB overrides. */
function blasCandidates(): string[] {
  if (process.env.QLORA_BLAS_LIB) return [process.env.QLORA_BLAS_LIB];
  if (process.platform === 'darwin') {
    return [
      '/opt/homebrew/opt/openblas/lib/libopenblas.dylib',
      '/usr/local/opt/openblas/lib/libopenblas.dylib',
      // Apple's own BLAS (AMX on Apple silicon): fast, always present.
      '/System/Library/Frameworks/Accelerate.framework/Accelerate',
    ];
  }
  return ['libopenblas.so.0', 'libopenblas.so', 'libopenblasp.so.0', '/usr/lib64/libopenblas.so.0'];
}

/**
 * The OPENBLAS_CORETYPE to force on this CPU, or null to let OpenBLAS detect it. Only x86-64
 * Linux is affected (elsewhere OpenBLAS reads the CPU model through other means).
 */
export function openblasCoreType(cpuinfo?: string): string | null {
  if (process.arch !== 'x64') return null;
  let info = cpuinfo;
  if (info === undefined) {
    try {
      info = fs.readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      return null;
    }
  }
  const flagsLine = info.split('\n').find((l) => l.startsWith('flags')) ?? '';
  const flags = new Set(flagsLine.split(':')[1]?.trim().split(/\s+/) ?? []);
  // OpenBLAS' SkylakeX kernels use AVX-512 F, BW, VL and DQ; Haswell's use AVX2 and FMA.
  if (['avx512f', 'avx512bw', 'avx512vl', 'avx512dq'].every((f) => flags.has(f))) return 'SkylakeX';
  if (flags.has('avx2') && flags.has('fma')) return 'Haswell';
  return null;
}

/** Loads the addon and OpenBLAS with the right kernels; throws an Error saying why not. */
export function loadOpenBlas(threads: number): GemmEngine {
  const { addon, reason } = loadNative();
  if (!addon) throw new Error(reason);
  const forced = process.env.OPENBLAS_CORETYPE === undefined ? openblasCoreType() : null;
  const tried: string[] = [];
  for (const lib of blasCandidates()) {
    try {
      const { core } = addon.open(lib, forced ?? '');
      addon.setNumThreads(threads);
      const how = forced ? `OPENBLAS_CORETYPE=${forced} set from the CPU flags` : process.env.OPENBLAS_CORETYPE ? 'OPENBLAS_CORETYPE from the environment' : 'autodetected';
      const detail = `${path.basename(lib)}, core ${core} (${how}), ${threads} thread${threads > 1 ? 's' : ''}`;
      return { name: 'openblas', detail, gemm: addon.gemm };
    } catch (e) {
      tried.push(`${lib}: ${(e as Error).message}`);
    }
  }
  throw new Error(`no OpenBLAS library could be opened (${tried.join('; ')}); on Debian/Ubuntu: apt-get install libopenblas0-pthread`);
}
