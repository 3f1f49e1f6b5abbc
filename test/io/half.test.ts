import { float16BitsToFloat32, bfloat16BitsToFloat32, float32ToFloat16Bits, float32ToBfloat16Bits } from '../../lib/io/half';

describe('half-precision conversions against hand-derived values', () => {
  it('float16 bits → float32', () => {
    const cases: [number, number][] = [
      [0x3c00, 1], [0xc000, -2], [0x7bff, 65504], [0x0001, 2 ** -24], [0x03ff, 1023 * 2 ** -24], [0x0400, 2 ** -14],
      [0x3555, 0.333251953125], [0x2e66, 0.0999755859375], [0x7c00, Infinity], [0xfc00, -Infinity], [0x0000, 0],
    ];
    const got = float16BitsToFloat32(new Uint16Array(cases.map((c) => c[0])));
    expect([...got]).toEqual(cases.map((c) => c[1]));
    expect(Object.is(float16BitsToFloat32(new Uint16Array([0x8000]))[0], -0)).toBe(true);
    expect(float16BitsToFloat32(new Uint16Array([0x7e00]))[0]).toBeNaN();
  });

  it('float32 → float16 bits, rounding to nearest even', () => {
    const cases: [number, number][] = [
      [1, 0x3c00], [0.1, 0x2e66], [65504, 0x7bff], [65519, 0x7bff], [65520, 0x7c00], [1e6, 0x7c00], [-2, 0xc000],
      [2 ** -14, 0x0400], [2 ** -24, 0x0001], [2 ** -25, 0x0000], [1.5 * 2 ** -25, 0x0001], [3 * 2 ** -25, 0x0002],
      [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [-0, 0x8000], [Infinity, 0x7c00], [1e-10, 0x0000],
    ];
    expect([...float32ToFloat16Bits(cases.map((c) => c[0]))]).toEqual(cases.map((c) => c[1]));
    expect(float32ToFloat16Bits([NaN])[0] & 0x7e00).toBe(0x7e00);
  });

  it('bfloat16 bits → float32 and back', () => {
    expect([...bfloat16BitsToFloat32(new Uint16Array([0x3f80, 0x4049, 0xc2f7, 0x7f80, 0x0001]))]).toEqual([
      1, 3.140625, -123.5, Infinity, 2 ** -133,
    ]);
    // π = 0x40490FDB rounds down; 1 + 2^-8 = 0x3F808000 is a tie (to even 0x3F80); 1 + 3·2^-8 ties up to 0x3F82.
    expect([...float32ToBfloat16Bits([Math.PI, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -123.5])]).toEqual([0x4049, 0x3f80, 0x3f82, 0xc2f7]);
  });
});
