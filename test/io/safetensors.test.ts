import * as fs from 'fs';
import * as path from 'path';
import { readSafetensors, writeSafetensors, SafetensorsFile } from '../../lib/io/safetensors';
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

// Each rule of the format (huggingface/safetensors README "Format", and the checks of the
// reference reader safetensors/src/tensor.rs), tried both ways. Byte strings marked "tensor.rs"
// are copied from the reference library's own unit tests, with its verdicts.
describe('the format rules, each tried both ways', () => {
  const dir = tempDir();
  /** A file from a header given as exact text (so duplicates and odd literals survive). */
  const raw = (header: string | Buffer, data: number[] | Buffer = [], lengthField?: bigint) => {
    const json = typeof header === 'string' ? Buffer.from(header, 'utf8') : header;
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(lengthField ?? BigInt(json.length));
    const file = path.join(dir, `rule-${Math.random().toString(36).slice(2)}.safetensors`);
    fs.writeFileSync(file, Buffer.concat([len, json, Buffer.from(data)]));
    return file;
  };
  const f32 = (...v: number[]) => [...Buffer.from(new Float32Array(v).buffer)];
  const refuses = (file: string, rule: RegExp) => expect(() => SafetensorsFile.open(file)).toThrow(new RegExp(`${path.basename(file)}: .*${rule.source}`));

  it('no duplicate names: the second "w" is refused, not silently kept', () => {
    refuses(
      raw('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f32(1, 2)),
      /duplicate key "w".*forbids duplicate names/,
    );
    refuses(raw('{"__metadata__":{"a":"1","a":"2"}}'), /duplicate key "a"/);
    // Equal names in different objects are not duplicates.
    const ok = raw('{"__metadata__":{"w":"x"},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', f32(5));
    expect([...SafetensorsFile.open(ok).readFloat32('w').data]).toEqual([5]);
  });

  it('no holes: a at [0,4], b at [8,12] with 12 data bytes is refused; contiguous is accepted', () => {
    const hdr = (bBegin: number) =>
      `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[${bBegin},${bBegin + 4}]}}`;
    refuses(raw(hdr(8), f32(1, 2, 3)), /bytes 4–8 of the data section belong to no tensor \(before 'b'\).*entirely indexed, with no holes/);
    refuses(raw(hdr(4), f32(1, 2, 3)), /cover 8 bytes but the data section has 12.*nothing after the last tensor/);
    const st = SafetensorsFile.open(raw(hdr(4), f32(1, 2)));
    expect([...st.readFloat32('b').data]).toEqual([2]);
    // tensor.rs test_metadata_incomplete_buffer: trailing bytes after the data ("polyglot") refused.
    const polyglot = Buffer.concat([Buffer.alloc(16), Buffer.from('extra_bogus_data_for_polyglot_file')]);
    refuses(raw('{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}', polyglot), /cover 16 bytes but the data section has 50/);
    // A hole at the start of the buffer.
    refuses(raw('{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f32(1, 2)), /bytes 0–4 of the data section belong to no tensor/);
  });

  it('zero-size tensors are allowed anywhere on a boundary, including the start of another tensor', () => {
    // The example: b F32 [3, 0] at [8, 8], where c starts.
    const file = raw(
      '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"c":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"b":{"dtype":"F32","shape":[3,0],"data_offsets":[8,8]}}',
      f32(1, 2, 3, 4),
    );
    const all = readSafetensors(file);
    expect(all.get('b')!.shape).toEqual([3, 0]);
    expect(all.get('b')!.data.length).toBe(0);
    expect([...(all.get('a')!.data as Float32Array)]).toEqual([1, 2]);
    expect([...(all.get('c')!.data as Float32Array)]).toEqual([3, 4]);
    // tensor.rs test_zero_sized_tensor: I32 [2, 0] at [0, 0] in a file with no data at all.
    expect(SafetensorsFile.open(raw('{"test":{"dtype":"I32","shape":[2,0],"data_offsets":[0, 0]}}')).read('test').data.length).toBe(0);
    // A zero-size tensor past the end of the data is not on a boundary.
    refuses(raw('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"z":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}}', f32(1)), /ends at byte 8 of the data section, which has only 4/);
    // The writer writes them and the reader reads them back.
    const w = path.join(dir, 'zero.safetensors');
    writeSafetensors(w, { e: { dtype: 'F32', shape: [3, 0], data: new Float32Array(0) }, x: { dtype: 'F32', shape: [1], data: new Float32Array([7]) } });
    expect(readSafetensors(w).get('e')!.shape).toEqual([3, 0]);
  });

  it('0-rank tensors (shape []) are scalars of one element', () => {
    // tensor.rs test_empty_shapes_allowed.
    const st = SafetensorsFile.open(raw('{"test":{"dtype":"I32","shape":[],"data_offsets":[0,4]}}', [7, 0, 0, 0]));
    expect([...(st.read('test').data as Int32Array)]).toEqual([7]);
    refuses(raw('{"test":{"dtype":"I32","shape":[],"data_offsets":[0,8]}}', Array(8).fill(0)), /should take 4 bytes but its data_offsets \[0, 8\] span 8/);
  });

  it('offsets consistent with dtype × shape (tensor.rs test_invalid_info), integers only, no overflow', () => {
    refuses(raw('{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0, 4]}}', Array(4).fill(0)), /I32 \[2, 2\]\) should take 16 bytes/);
    refuses(raw('{"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}', f32(1, 2)), /invalid shape \[2\.0\]/);
    refuses(raw('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8e0]}}', f32(1, 2)), /invalid data_offsets/);
    // tensor.rs test_validation_overflow.
    refuses(raw('{"test":{"dtype":"I32","shape":[2,18446744073709551614],"data_offsets":[0,16]}}', Array(16).fill(0)), /invalid shape/);
    // Sub-byte dtypes must fill whole bytes (the reference's MisalignedSlice): 3 F4 values do not, 4 do.
    refuses(raw('{"q":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}}', [0]), /12 bits do not fill whole bytes/);
    expect(SafetensorsFile.open(raw('{"q":{"dtype":"F4","shape":[4],"data_offsets":[0,2]}}', [0x21, 0x43])).read('q').data).toEqual(new Uint8Array([0x21, 0x43]));
  });

  it('every dtype name of the reference enum, with its size; unknown names refused', () => {
    const bytesPer: Record<string, number> = {
      BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, F8_E8M0: 1, F8_E4M3FNUZ: 1, F8_E5M2FNUZ: 1,
      I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, C64: 8, F64: 8, I64: 8, U64: 8,
    };
    for (const [dtype, size] of Object.entries(bytesPer)) {
      const st = SafetensorsFile.open(raw(`{"t":{"dtype":"${dtype}","shape":[2],"data_offsets":[0,${2 * size}]}}`, Array(2 * size).fill(0)));
      expect(st.read('t').data.byteLength).toBe(2 * size);
    }
    for (const bad of ['f32', 'F8', 'Q4_0', 'C128']) {
      refuses(raw(`{"t":{"dtype":"${bad}","shape":[1],"data_offsets":[0,4]}}`, f32(0)), /unknown dtype/);
    }
  });

  it('the header: UTF-8 JSON object, whitespace padding allowed around it, nothing else', () => {
    // tensor.rs test_whitespace_padded_header and test_whitespace_leading_padded_header.
    expect(SafetensorsFile.open(raw(Buffer.from('{}\x0D\x20\x09\x0A', 'latin1'))).names()).toEqual([]);
    expect(SafetensorsFile.open(raw(Buffer.from('\x09\x0A{}\x0D\x20', 'latin1'))).names()).toEqual([]);
    // tensor.rs test_invalid_header_non_utf8.
    refuses(raw(Buffer.from([0xff])), /not valid UTF-8/);
    refuses(raw(Buffer.from('{"caf\xe9":1}', 'latin1')), /not valid UTF-8/);
    // tensor.rs test_invalid_header_not_json.
    refuses(raw('{'), /not valid JSON: unexpected end of input/);
    refuses(raw('[]'), /must be a JSON object/);
    refuses(raw('{}\x00\x00'), /trailing characters/);
    refuses(raw('{},'), /trailing characters/);
    refuses(raw('{"a":1,}'), /not valid JSON/);
    // Non-ASCII names are fine when they are UTF-8.
    const ok = raw('{"café":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', [9]);
    expect(SafetensorsFile.open(ok).names()).toEqual(['café']);
  });

  it('__metadata__: string → string only (or null)', () => {
    expect(SafetensorsFile.open(raw('{"__metadata__":{"format":"pt"}}')).metadata).toEqual({ format: 'pt' });
    expect(SafetensorsFile.open(raw('{"__metadata__":null}')).metadata).toEqual({});
    refuses(raw('{"__metadata__":{"n":1}}'), /__metadata__\.n is not a string.*only string values/);
    refuses(raw('{"__metadata__":{"o":{"x":"y"}}}'), /__metadata__\.o is not a string/);
    refuses(raw('{"__metadata__":["pt"]}'), /__metadata__ must be an object mapping strings to strings/);
    const w = path.join(dir, 'meta.safetensors');
    expect(() => writeSafetensors(w, {}, { n: 1 as unknown as string })).toThrow(/meta\.safetensors: metadata 'n' is number; .*only string values/);
  });

  it('header size: at most 100,000,000 bytes, and within the file', () => {
    // tensor.rs test_header_too_large and test_invalid_header_length.
    refuses(raw('{}', [], 0xffffff0000003cn), /more than the 100 MB limit/);
    refuses(raw('', [], 60n), /header length field says 60 bytes but the file has only 0 after it/);
    expect(SafetensorsFile.open(raw('{}', [], 2n)).names()).toEqual([]);
  });

  it('the writer refuses what the reader would refuse, naming the file', () => {
    const w = path.join(dir, 'bad.safetensors');
    expect(() => writeSafetensors(w, { __metadata__: { dtype: 'F32', shape: [1], data: new Float32Array(1) } })).toThrow(/bad\.safetensors: '__metadata__' is reserved/);
    expect(() => writeSafetensors(w, { t: { dtype: 'F17' as 'F32', shape: [1], data: new Float32Array(1) } })).toThrow(/bad\.safetensors: tensor 't' has unknown dtype 'F17'/);
    expect(() => writeSafetensors(w, { t: { dtype: 'F32', shape: [-1], data: new Float32Array(1) } })).toThrow(/bad\.safetensors: tensor 't' has an invalid shape/);
    expect(() => writeSafetensors(w, { t: { dtype: 'F4', shape: [3], data: new Uint8Array(2) } })).toThrow(/12 bits do not fill whole bytes/);
    expect(fs.existsSync(w)).toBe(false);
  });
});
