// 16-bit floats (IEEE 754 half and bfloat16) as their raw bit patterns, converted to and from
// float32. Widening is exact; narrowing rounds to nearest, ties to even, as PyTorch's
// `tensor.to(torch.float16 / torch.bfloat16)` does, with overflow to ±Inf and NaN kept a NaN.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half bit patterns [n] (uint16) → float32 values [n], exact (subnormals, ±0, ±Inf and NaN included). */
export function float16BitsToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) out[i] = sign * mant * 2 ** -24; // zero or subnormal
    else if (exp === 0x1f) out[i] = mant ? NaN : sign * Infinity;
    else out[i] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return out;
}

/** bfloat16 bit patterns [n] (uint16) → float32 values [n], exact. */
export function bfloat16BitsToFloat32(bits: Uint16Array): Float32Array {
  // bfloat16 is the top half of a float32.
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i] << 16;
  return new Float32Array(out.buffer);
}

/** Shifts `value` right by `shift` bits, rounding to nearest, ties to even. */
function shiftRoundEven(value: number, shift: number): number {
  const q = value >>> shift;
  const rest = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rest > half || (rest === half && (q & 1) === 1) ? q + 1 : q;
}

/** float32 values [n] → IEEE half bit patterns [n], rounded to nearest even; beyond ±65504 → ±Inf. */
export function float32ToFloat16Bits(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i];
    const x = u32[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    const mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0); // Inf or NaN
      continue;
    }
    const e = exp - 127 + 15; // the exponent re-biased for half
    let h: number;
    if (e >= 0x1f) h = 0x7c00; // too large: Inf
    else if (e > 0) h = shiftRoundEven((e << 23) | mant, 13); // normal; a carry may round up into Inf, as it should
    else {
      // Subnormal half: value = m · 2^-24, m = (1.mant) · 2^(exp - 126).
      const shift = 14 - e;
      h = shift > 24 ? 0 : shiftRoundEven(0x800000 | mant, shift);
    }
    out[i] = sign | h;
  }
  return out;
}

/** float32 values [n] → bfloat16 bit patterns [n], rounded to nearest even; NaN stays NaN. */
export function float32ToBfloat16Bits(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i];
    const x = u32[0];
    if ((x & 0x7fffffff) > 0x7f800000) out[i] = (x >>> 16) | 0x40; // NaN stays a (quiet) NaN
    else out[i] = shiftRoundEven(x, 16) & 0xffff;
  }
  return out;
}

