// Checkpoint folders: one `model.safetensors`, or shards listed in `model.safetensors.index.json`
// (transformers' `save_pretrained(max_shard_size=...)` layout:
//   {"metadata": {"total_size": ...}, "weight_map": {tensor name: shard file name, ...}}).
//
// `parseShardIndex` is the one reader of that index: the checkpoint loader below and the Hub
// downloader (which fetches the shards it names) both use it.
import * as fs from 'fs';
import * as path from 'path';
import { SafetensorsFile, TensorInfo } from './safetensors';

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

/** A parsed `*.safetensors.index.json`. */
export interface ShardIndex {
  /** Tensor name → shard file name, relative to the index's folder ('model-00001-of-00002.safetensors'). */
  weightMap: Map<string, string>;
  /** The distinct shard names, sorted. */
  shards: string[];
}

/**
 * Parses a sharded-checkpoint index (transformers' `model.safetensors.index.json`). `text` is the
 * file's content (read from `indexFile` when omitted). Shard names must be plain relative paths
 * inside the index's folder: no absolute path, no '..' component, no backslash, no empty name,
 * since they come from downloaded files and are joined to a local folder.
 * Throws, naming `indexFile`, on invalid JSON, a missing `weight_map` object, or a bad shard name.
 */
export function parseShardIndex(indexFile: string, text?: string): ShardIndex {
  const redownload = 'the index is corrupt; delete it and download the checkpoint again';
  let index: { weight_map?: unknown };
  try {
    index = JSON.parse(text ?? fs.readFileSync(indexFile, 'utf8'));
  } catch (e) {
    throw new Error(`${indexFile}: not valid JSON (${(e as Error).message}) — ${redownload}.`);
  }
  const map = typeof index === 'object' && index !== null ? index.weight_map : undefined;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new Error(`${indexFile}: it has no "weight_map" object (tensor name → shard file) — ${redownload}.`);
  }
  const weightMap = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(map as Record<string, unknown>)) {
    if (typeof shard !== 'string' || shard === '') throw new Error(`${indexFile}: weight_map['${tensor}'] is ${JSON.stringify(shard)}, not a file name — ${redownload}.`);
    const parts = shard.split('/');
    if (shard.startsWith('/') || path.isAbsolute(shard) || shard.includes('\\') || parts.some((p) => p === '..' || p === '' || p === '.')) {
      throw new Error(
        `${indexFile}: weight_map['${tensor}'] names the shard '${shard}', which is outside the checkpoint folder or not a plain relative path; ` +
          `shard names must be plain file names inside it. Refusing to read it: re-download the checkpoint from a trusted source.`,
      );
    }
    weightMap.set(tensor, shard);
  }
  return { weightMap, shards: [...new Set(weightMap.values())].sort() };
}

/** The shard files listed in `indexFile`, as absolute paths inside `folder`, each checked to exist. */
export function shardFiles(folder: string, indexFile: string): string[] {
  const root = path.resolve(folder);
  return parseShardIndex(indexFile).shards.map((shard) => {
    const file = path.resolve(root, shard);
    if (!fs.existsSync(file)) throw new Error(`${indexFile}: shard ${shard} is listed but missing from ${root}; download it.`);
    return file;
  });
}

/**
 * The tensors of a checkpoint folder, whether in one file or sharded, read lazily by name
 * (transformers' `load_state_dict` over `model.safetensors` or every shard of the index).
 */
export class CheckpointTensors {
  readonly folder: string;
  /** Tensor name → the shard that holds it. */
  private readonly owner = new Map<string, SafetensorsFile>();

  /** Throws when two files hold the same tensor name. */
  constructor(folder: string, files: SafetensorsFile[]) {
    this.folder = folder;
    for (const f of files) {
      for (const name of f.names()) {
        const other = this.owner.get(name);
        if (other) throw new Error(`${folder}: tensor '${name}' appears in both ${other.file} and ${f.file}`);
        this.owner.set(name, f);
      }
    }
  }

  /**
   * Opens `model.safetensors`, or the shards named by `model.safetensors.index.json`. Throws when
   * neither exists (saying when only .bin/.h5 files are there), when a shard is missing, or when a
   * tensor the index places in a shard is not in that shard.
   */
  static open(folder: string): CheckpointTensors {
    const single = path.join(folder, SINGLE_FILE);
    if (fs.existsSync(single)) return new CheckpointTensors(folder, [SafetensorsFile.open(single)]);
    const indexFile = path.join(folder, INDEX_FILE);
    if (fs.existsSync(indexFile)) {
      const index = parseShardIndex(indexFile);
      const byShard = new Map(shardFiles(folder, indexFile).map((f) => [path.relative(path.resolve(folder), f).split(path.sep).join('/'), SafetensorsFile.open(f)]));
      for (const [tensor, shard] of index.weightMap) {
        if (!byShard.get(shard)!.tensors.has(tensor)) {
          throw new Error(`${indexFile}: weight_map puts '${tensor}' in ${shard}, but that shard has no such tensor; the checkpoint is incomplete or mixed, download it again.`);
        }
      }
      return new CheckpointTensors(folder, [...byShard.values()]);
    }
    const others = fs.existsSync(folder) ? fs.readdirSync(folder).filter((f) => /\.(bin|pt|pth|h5|msgpack)$/.test(f)) : [];
    throw new Error(
      `${folder}: no ${SINGLE_FILE} or ${INDEX_FILE} found` +
        (others.length ? ` (found ${others.join(', ')}: only the safetensors format is supported; download the model's safetensors files)` : ''),
    );
  }

  names(): string[] {
    return [...this.owner.keys()];
  }

  has(name: string): boolean {
    return this.owner.has(name);
  }

  fileOf(name: string): SafetensorsFile {
    const f = this.owner.get(name);
    if (!f) throw new Error(`${this.folder}: the checkpoint has no tensor named '${name}'`);
    return f;
  }

  info(name: string): TensorInfo {
    return this.fileOf(name).info(name);
  }

  /** A float tensor (F32/F16/BF16/F64) as float32, with its shape. */
  readFloat32(name: string): { shape: number[]; data: Float32Array } {
    return this.fileOf(name).readFloat32(name);
  }
}
