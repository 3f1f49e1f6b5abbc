import * as fs from 'fs';
import * as path from 'path';
import { readSafetensors, writeSafetensors, SafetensorsFile } from '../../lib/io/safetensors';
import { CheckpointTensors } from '../../lib/io/sharded';
import { float16BitsToFloat32, bfloat16BitsToFloat32, float32ToFloat16Bits, float32ToBfloat16Bits } from '../../lib/io/half';
import { tempDir, cleanupTempDirs } from '../helpers/checkpoint';

/** A file made of an 8-byte length field and the given header and data bytes. */
function rawFile(dir: string, header: string | object, data: number[] | Uint8Array = [], lengthField?: bigint): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthField ?? BigInt(json.length));
  const file = path.join(dir, `raw-${Math.random().toString(36).slice(2)}.safetensors`);
  fs.writeFileSync(file, Buffer.concat([len, json, Buffer.from(data)]));
  return file;
}

const bytes = (file: string) => [...fs.readFileSync(file)];

afterAll(cleanupTempDirs);

describe('writeSafetensors matches the reference library byte for byte', () => {
  // Expected bytes: the unit tests of huggingface/safetensors (safetensors/src/tensor.rs:
  // test_serialization, test_serialization_forced_alignement, test_empty).
  const dir = tempDir();

  it('one F32 tensor [1, 2, 3] named attn.0', () => {
    const file = path.join(dir, 'a.safetensors');
    writeSafetensors(file, { 'attn.0': { dtype: 'F32', shape: [1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) } });
    expect(bytes(file)).toEqual([
      64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70, 51,
      50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102,
      115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0,
      128, 64, 0, 0, 160, 64,
    ]);
  });

  it('pads the header with spaces to a multiple of 8', () => {
    const file = path.join(dir, 'b.safetensors');
    writeSafetensors(file, { attn0: { dtype: 'F32', shape: [1, 1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) } });
    expect(bytes(file)).toEqual([
      72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70, 51, 50,
      34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102,
      102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32, 32, 32, 0, 0, 0, 0, 0, 0, 128, 63,
      0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ]);
  });

  it('writes __metadata__ first; an empty file is just the header', () => {
    const file = path.join(dir, 'c.safetensors');
    writeSafetensors(file, {});
    expect(bytes(file)).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    writeSafetensors(file, {}, { framework: 'pt' });
    expect(bytes(file)).toEqual([
      40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95, 95, 34, 58, 123, 34, 102, 114, 97, 109,
      101, 119, 111, 114, 107, 34, 58, 34, 112, 116, 34, 125, 125, 32, 32, 32, 32, 32,
    ]);
  });

  it('orders tensors by dtype alignment (largest first), then by name', () => {
    const file = path.join(dir, 'd.safetensors');
    writeSafetensors(file, {
      b: { dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 3]) },
      a: { dtype: 'U8', shape: [1], data: new Uint8Array([9]) },
      z: { dtype: 'I64', shape: [1], data: new BigInt64Array([5n]) },
      m: { dtype: 'F32', shape: [1], data: new Float32Array([1]) },
    });
    const st = SafetensorsFile.open(file);
    expect([...st.tensors.entries()].sort((x, y) => x[1].dataOffsets[0] - y[1].dataOffsets[0]).map(([n]) => n)).toEqual(['z', 'm', 'a', 'b']);
    expect(st.info('z').dataOffsets).toEqual([0, 8]);
    expect(st.info('b').dataOffsets).toEqual([13, 16]);
  });

  it('leaves no temp file behind', () => {
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
  });
});

describe('round trip', () => {
  it('keeps every dtype, shape and metadata', () => {
    const file = path.join(tempDir(), 'all.safetensors');
    const tensors = {
      f32: { dtype: 'F32' as const, shape: [2, 2], data: new Float32Array([1.5, -2, 3.25, 1e-30]) },
      f64: { dtype: 'F64' as const, shape: [2], data: new Float64Array([Math.PI, -1]) },
      f16: { dtype: 'F16' as const, shape: [3], data: new Uint16Array([0x3c00, 0xc000, 0x7bff]) },
      bf16: { dtype: 'BF16' as const, shape: [1, 2], data: new Uint16Array([0x3f80, 0x4049]) },
      i64: { dtype: 'I64' as const, shape: [3], data: new BigInt64Array([0n, -1n, 9007199254740993n]) },
      i32: { dtype: 'I32' as const, shape: [2], data: new Int32Array([-7, 2147483647]) },
      u8: { dtype: 'U8' as const, shape: [2, 1], data: new Uint8Array([0, 255]) },
      scalar: { dtype: 'F32' as const, shape: [], data: new Float32Array([42]) },
      empty: { dtype: 'F32' as const, shape: [0, 3], data: new Float32Array(0) },
    };
    writeSafetensors(file, tensors, { format: 'pt', note: 'x' });
    const back = readSafetensors(file);
    expect([...back.keys()].sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      const got = back.get(name)!;
      expect(got.dtype).toBe(t.dtype);
      expect(got.shape).toEqual(t.shape);
      expect(got.data.constructor).toBe(t.data.constructor);
      expect([...(got.data as ArrayLike<unknown> as unknown[])]).toEqual([...(t.data as ArrayLike<unknown> as unknown[])]);
    }
    expect(SafetensorsFile.open(file).metadata).toEqual({ format: 'pt', note: 'x' });
    // Float reads convert half types; integer tensors are refused as floats.
    const st = SafetensorsFile.open(file);
    expect([...st.readFloat32('f16').data]).toEqual([1, -2, 65504]);
    expect([...st.readFloat32('bf16').data]).toEqual([1, 3.140625]);
    expect(() => st.readFloat32('i32')).toThrow(/'i32' has dtype I32, expected a float dtype/);
  });

  it('converts Float32Array data for F16/BF16 and Int32Array for I64 when writing', () => {
    const file = path.join(tempDir(), 'conv.safetensors');
    writeSafetensors(file, {
      h: { dtype: 'F16', shape: [2], data: new Float32Array([0.1, -65504]) },
      b: { dtype: 'BF16', shape: [1], data: new Float32Array([Math.PI]) },
      i: { dtype: 'I64', shape: [2], data: new Int32Array([-3, 4]) },
    });
    const back = readSafetensors(file);
    expect([...(back.get('h')!.data as Uint16Array)]).toEqual([0x2e66, 0xfbff]);
    expect([...(back.get('b')!.data as Uint16Array)]).toEqual([0x4049]);
    expect([...(back.get('i')!.data as BigInt64Array)]).toEqual([-3n, 4n]);
  });

  it('refuses data whose size does not match the shape', () => {
    const file = path.join(tempDir(), 'bad.safetensors');
    expect(() => writeSafetensors(file, { w: { dtype: 'F32', shape: [2, 3], data: new Float32Array(5) } })).toThrow(
      /tensor 'w' \(F32 \[2, 3\]\) needs 24 bytes but its data has 20/,
    );
    expect(fs.existsSync(file)).toBe(false);
  });
});

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

describe('corrupt files are refused with a message naming the file and the problem', () => {
  const dir = tempDir();
  const good = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const eight = [0, 0, 128, 63, 0, 0, 0, 64];

  it('reads a well-formed hand-made file', () => {
    const file = rawFile(dir, good, eight);
    expect([...SafetensorsFile.open(file).readFloat32('w').data]).toEqual([1, 2]);
  });

  it('a file shorter than the length field', () => {
    const file = path.join(dir, 'tiny.safetensors');
    fs.writeFileSync(file, Buffer.from([1, 2, 3]));
    expect(() => SafetensorsFile.open(file)).toThrow(/tiny\.safetensors: only 3 bytes long.*corrupt or truncated.*download it again/);
  });

  it('a truncated file (data cut short)', () => {
    const file = rawFile(dir, good, eight.slice(0, 5));
    expect(() => SafetensorsFile.open(file)).toThrow(new RegExp(`${path.basename(file)}: tensor 'w' ends at byte 8 of the data section, which has only 5 bytes.*truncated`));
  });

  it('a header length beyond the end of the file', () => {
    const file = rawFile(dir, good, eight, 5000n);
    expect(() => SafetensorsFile.open(file)).toThrow(/header length field says 5000 bytes but the file has only \d+ after it.*download it again/);
  });

  it('a header length over 100 MB, refused before allocating it', () => {
    const file = rawFile(dir, good, eight, 1n << 60n);
    expect(() => SafetensorsFile.open(file)).toThrow(/header length field says 1152921504606846976 bytes, more than the 100 MB limit/);
  });

  it('a header that is not JSON', () => {
    const file = rawFile(dir, '{"w": {"dtype": "F32",', eight);
    expect(() => SafetensorsFile.open(file)).toThrow(/header is not valid JSON.*corrupt or truncated/);
  });

  it('an unknown dtype', () => {
    const file = rawFile(dir, { w: { dtype: 'F17', shape: [2], data_offsets: [0, 8] } }, eight);
    expect(() => SafetensorsFile.open(file)).toThrow(/tensor 'w' has unknown dtype "F17"/);
  });

  it('a shape whose size does not match the byte range', () => {
    const file = rawFile(dir, { w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, eight);
    expect(() => SafetensorsFile.open(file)).toThrow(/tensor 'w' \(F32 \[3\]\) should take 12 bytes but its data_offsets \[0, 8\] span 8/);
  });

  it('offsets outside the data section', () => {
    const file = rawFile(dir, { w: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, eight);
    expect(() => SafetensorsFile.open(file)).toThrow(/tensor 'w' ends at byte 16 of the data section, which has only 8 bytes/);
  });

  it('malformed offsets (end before begin, negative, missing)', () => {
    for (const offs of [[8, 0], [-4, 4], [0], 'x']) {
      const file = rawFile(dir, { w: { dtype: 'F32', shape: [2], data_offsets: offs } }, eight);
      expect(() => SafetensorsFile.open(file)).toThrow(/tensor 'w' has invalid data_offsets/);
    }
  });

  it('overlapping tensors', () => {
    const file = rawFile(dir, { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, eight);
    expect(() => SafetensorsFile.open(file)).toThrow(/tensors 'a' and 'b' overlap/);
  });

  it('non-string metadata', () => {
    const file = rawFile(dir, { __metadata__: { format: 1 }, ...good }, eight);
    expect(() => SafetensorsFile.open(file)).toThrow(/__metadata__\.format is not a string/);
  });
});

describe('sharded checkpoints', () => {
  function shardedFolder(weightMap: Record<string, string>): string {
    const dir = tempDir();
    writeSafetensors(path.join(dir, 'model-00001-of-00002.safetensors'), { a: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } });
    writeSafetensors(path.join(dir, 'model-00002-of-00002.safetensors'), { b: { dtype: 'BF16', shape: [1], data: new Uint16Array([0x4000]) } });
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 6 }, weight_map: weightMap }));
    return dir;
  }

  it('reads tensors from every shard named in weight_map', () => {
    const dir = shardedFolder({ a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' });
    const ckpt = CheckpointTensors.open(dir);
    expect(ckpt.names().sort()).toEqual(['a', 'b']);
    expect([...ckpt.readFloat32('a').data]).toEqual([1]);
    expect([...ckpt.readFloat32('b').data]).toEqual([2]);
  });

  it('refuses shard names that escape the folder', () => {
    const dir = shardedFolder({ a: '../model-00001-of-00002.safetensors' });
    expect(() => CheckpointTensors.open(dir)).toThrow(/weight_map\['a'\] names the shard '\.\.\/model-00001-of-00002\.safetensors', which is outside the checkpoint folder/);
    const abs = shardedFolder({ a: '/etc/passwd' });
    expect(() => CheckpointTensors.open(abs)).toThrow(/'\/etc\/passwd', which is outside the checkpoint folder.*plain file names/);
    const nested = shardedFolder({ a: 'sub/../../x.safetensors' });
    expect(() => CheckpointTensors.open(nested)).toThrow(/outside the checkpoint folder/);
  });

  it('says which shard is missing, and when there are no safetensors at all', () => {
    const dir = shardedFolder({ a: 'model-00001-of-00002.safetensors', b: 'model-00003-of-00003.safetensors' });
    expect(() => CheckpointTensors.open(dir)).toThrow(/shard model-00003-of-00003\.safetensors is listed but missing/);
    const empty = tempDir();
    fs.writeFileSync(path.join(empty, 'pytorch_model.bin'), 'x');
    expect(() => CheckpointTensors.open(empty)).toThrow(/no model\.safetensors or model\.safetensors\.index\.json found \(found pytorch_model\.bin: only the safetensors format/);
  });
});
