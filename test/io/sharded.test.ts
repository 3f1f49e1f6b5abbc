import * as fs from 'fs';
import * as path from 'path';
import { writeSafetensors } from '../../lib/io/safetensors';
import { CheckpointTensors, parseShardIndex } from '../../lib/io/sharded';
import { tempDir, cleanupTempDirs } from '../helpers/checkpoint';

afterAll(cleanupTempDirs);

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

  it('refuses a weight_map entry whose shard lacks the tensor', () => {
    const dir = shardedFolder({ a: 'model-00002-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' });
    expect(() => CheckpointTensors.open(dir)).toThrow(/index\.json: weight_map puts 'a' in model-00002-of-00002\.safetensors, but that shard has no such tensor/);
  });
});

describe('parseShardIndex (the one index parser, also used by the Hub downloader)', () => {
  const idx = '/x/model.safetensors.index.json';
  it('returns the weight map and the distinct shards, sorted', () => {
    const got = parseShardIndex(idx, JSON.stringify({ metadata: { total_size: 8 }, weight_map: { b: 's-2.safetensors', a: 's-1.safetensors', c: 'sub/s-2.safetensors', d: 's-1.safetensors' } }));
    expect([...got.weightMap]).toEqual([['b', 's-2.safetensors'], ['a', 's-1.safetensors'], ['c', 'sub/s-2.safetensors'], ['d', 's-1.safetensors']]);
    expect(got.shards).toEqual(['s-1.safetensors', 's-2.safetensors', 'sub/s-2.safetensors']);
  });
  it('refuses bad JSON, a missing weight_map, and names that are not plain relative paths', () => {
    expect(() => parseShardIndex(idx, '{')).toThrow(/model\.safetensors\.index\.json: not valid JSON/);
    expect(() => parseShardIndex(idx, '{"metadata":{}}')).toThrow(/index\.json: it has no "weight_map" object/);
    expect(() => parseShardIndex(idx, 'null')).toThrow(/no "weight_map" object/);
    for (const bad of ['', '../a', '/etc/passwd', 'a/../../b', 'a\\b', './a', 'a//b', 'C:\\a']) {
      expect(() => parseShardIndex(idx, JSON.stringify({ weight_map: { t: bad } }))).toThrow(/weight_map\['t'\]/);
    }
    expect(() => parseShardIndex(idx, JSON.stringify({ weight_map: { t: 3 } }))).toThrow(/weight_map\['t'\] is 3, not a file name/);
  });
});
