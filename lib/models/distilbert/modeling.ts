// DistilBERT for sequence classification (Hugging Face's DistilBertForSequenceClassification).
//
//   ids [B, T] ──► word + position embeddings ──► LayerNorm ──► dropout            x: [B*T, C]
//   n_layers × {  q/k/v_lin ─► softmax((q/√d)·kᵀ + mask) ─► dropout ─► ·v ─► out_lin
//                 ─► + x ─► sa_layer_norm ─► lin1 ─► GELU ─► lin2 ─► dropout ─► + ─► output_layer_norm }
//   hidden[:, 0] ([CLS]) ──► pre_classifier ──► ReLU ──► dropout ──► classifier ──► logits [B, numLabels]
//
// Hidden states stay 2-D, [B*T, C], so every linear layer is a plain 2-D matMul (batched 3-D
// matMuls are ~10× slower on the wasm backend). Only attention needs the heads split out.
// Linear layers are held as `Linear`s so that NF4 quantization and LoRA can swap them in place.
import * as tf from '@tensorflow/tfjs';
import { Linear } from '../linear';
import { dropout as seededDropout } from '../../backends/dropout';
import { add, gelu, layerNorm } from '../../backends/fused-ops';
import { FLOAT32_MIN, selfAttention } from '../../backends/attention';
import { DistilBertConfig } from './config';
import { mixSeed } from '../../util/random';
import { checkpointed } from '../recompute';

export { DistilBertConfig } from './config';

export { FLOAT32_MIN };
const LAYER_NORM_EPS = 1e-12;

export const ATTENTION_LINEARS = ['q_lin', 'k_lin', 'v_lin', 'out_lin'] as const;
export const FFN_LINEARS = ['lin1', 'lin2'] as const;

/** HF module paths of every linear layer, with their [out, in] weight shapes. */
export function linearShapes(config: DistilBertConfig): Map<string, [number, number]> {
  const { dim, hidden_dim: hidden, numLabels } = config;
  const shapes = new Map<string, [number, number]>();
  for (let i = 0; i < config.n_layers; i++) {
    const layer = `distilbert.transformer.layer.${i}`;
    for (const name of ATTENTION_LINEARS) shapes.set(`${layer}.attention.${name}`, [dim, dim]);
    shapes.set(`${layer}.ffn.lin1`, [hidden, dim]);
    shapes.set(`${layer}.ffn.lin2`, [dim, hidden]);
  }
  shapes.set('pre_classifier', [dim, dim]);
  shapes.set('classifier', [numLabels, dim]);
  return shapes;
}

/** HF parameter names and shapes of everything that is not a linear layer (embeddings, LayerNorms). */
export function parameterShapes(config: DistilBertConfig): Map<string, number[]> {
  const { dim } = config;
  const shapes = new Map<string, number[]>();
  shapes.set('distilbert.embeddings.word_embeddings.weight', [config.vocab_size, dim]);
  shapes.set('distilbert.embeddings.position_embeddings.weight', [config.max_position_embeddings, dim]);
  const norms = ['distilbert.embeddings.LayerNorm'];
  for (let i = 0; i < config.n_layers; i++) {
    norms.push(`distilbert.transformer.layer.${i}.sa_layer_norm`, `distilbert.transformer.layer.${i}.output_layer_norm`);
  }
  for (const norm of norms) {
    shapes.set(`${norm}.weight`, [dim]);
    shapes.set(`${norm}.bias`, [dim]);
  }
  return shapes;
}

export interface LogitsOptions {
  /** Switches dropout on (default false). */
  training?: boolean;
  /** Makes every dropout mask reproducible: each dropout site gets a seed derived from this one. */
  dropoutSeed?: number;
  /**
   * Gradient checkpointing of each transformer layer (HF's gradient_checkpointing): only the
   * layers' inputs are kept for the backward pass, which recomputes each layer's forward (~1/3
   * more compute). 'auto' (default) turns it on where activations would not fit: on wasm (2 GB
   * heap in practice) from 2,048 tokens per batch (e.g. 8 × 512) up.
   */
  gradientCheckpointing?: boolean | 'auto';
}

/** Tokens per batch from which 'auto' checkpointing starts on wasm. */
const CHECKPOINT_FROM_TOKENS = 2048;

function toInt2D(x: number[][] | tf.Tensor2D, what: string): tf.Tensor2D {
  if (x instanceof tf.Tensor) {
    if (x.rank !== 2) throw new Error(`${what} must be a 2-D [batch, seq] tensor, got shape [${x.shape}]`);
    return x.dtype === 'int32' ? x : tf.cast(x, 'int32');
  }
  const width = x[0]?.length ?? 0;
  if (x.length === 0 || width === 0) throw new Error(`${what} is empty: expected a [batch, seq] array with batch, seq >= 1`);
  x.forEach((row, i) => {
    if (row.length !== width) throw new Error(`${what}: row ${i} has ${row.length} entries, row 0 has ${width}; pad the batch to one length`);
  });
  return tf.tensor2d(x, [x.length, width], 'int32');
}

export class DistilBertForSequenceClassification {
  readonly config: DistilBertConfig;
  /** Linear layers by HF module path, e.g. `distilbert.transformer.layer.0.attention.q_lin`, `classifier`. */
  readonly linears: Map<string, Linear>;
  /** All other weights by HF parameter name, e.g. `distilbert.embeddings.LayerNorm.weight`. Frozen by default. */
  readonly params: Map<string, tf.Variable>;

  /** Takes ownership of the given variables and layers; checks every expected one is there with its shape. */
  constructor(config: DistilBertConfig, params: Map<string, tf.Variable>, linears: Map<string, Linear>) {
    this.config = config;
    this.params = params;
    this.linears = linears;
    const problems: string[] = [];
    for (const [name, shape] of parameterShapes(config)) {
      const v = params.get(name);
      if (!v) problems.push(`missing ${name}`);
      else if (v.shape.join() !== shape.join()) problems.push(`${name} has shape [${v.shape}], expected [${shape}]`);
    }
    for (const [path, [out, inp]] of linearShapes(config)) {
      const l = linears.get(path);
      if (!l) problems.push(`missing linear ${path}`);
      else if (l.outFeatures !== out || l.inFeatures !== inp) {
        problems.push(`${path} is [${l.outFeatures}, ${l.inFeatures}], expected [${out}, ${inp}]`);
      }
    }
    if (problems.length) throw new Error(`DistilBertForSequenceClassification: ${problems.join('; ')}`);
  }

  /** Swaps the linear layer at `path` (HF module path) and returns the old one, which the caller owns. */
  replaceLinear(path: string, layer: Linear): Linear {
    const old = this.linears.get(path);
    if (!old) throw new Error(`replaceLinear: no linear layer '${path}' (known: ${[...this.linears.keys()].slice(0, 4).join(', ')}, ...)`);
    if (old.inFeatures !== layer.inFeatures || old.outFeatures !== layer.outFeatures) {
      throw new Error(
        `replaceLinear: '${path}' is [${old.outFeatures}, ${old.inFeatures}] but the new layer is [${layer.outFeatures}, ${layer.inFeatures}]`,
      );
    }
    this.linears.set(path, layer);
    return old;
  }

  /**
   * Classification logits [B, numLabels] for token ids and attention mask (both [B, T], int32 or
   * number[][]; mask 1 = real token, 0 = padding). Tensors passed in are not disposed. Ids given
   * as arrays are range-checked; ids in a tensor are not (that would need a read from the device).
   */
  logits(inputIds: number[][] | tf.Tensor2D, attentionMask: number[][] | tf.Tensor2D, opts: LogitsOptions = {}): tf.Tensor2D {
    const training = opts.training ?? false;
    const tokens = Array.isArray(inputIds) ? inputIds.length * (inputIds[0]?.length ?? 0) : (inputIds as tf.Tensor).size;
    const recompute =
      training &&
      (opts.gradientCheckpointing === true ||
        ((opts.gradientCheckpointing ?? 'auto') === 'auto' && tf.getBackend() === 'wasm' && tokens >= CHECKPOINT_FROM_TOKENS));
    // A recomputed layer must draw the same dropout masks again, so it needs concrete seeds.
    const seedBase = opts.dropoutSeed ?? (recompute ? Math.floor(Math.random() * 2 ** 32) : undefined);
    let site = 0;
    let replay: (number | undefined)[] | null = null;
    let record: (number | undefined)[] | null = null;
    // Each dropout call site in a forward pass (LoRA's input dropout inside the linears included)
    // gets its own seed, so masks are reproducible from dropoutSeed alone, yet distinct.
    const nextSeed = (): number | undefined => {
      if (replay) return replay.shift();
      const seed = seedBase === undefined ? undefined : mixSeed(seedBase, site++);
      record?.push(seed);
      return seed;
    };
    const dropout = (x: tf.Tensor, rate: number): tf.Tensor => {
      const seed = nextSeed();
      // Masks are hashed on the device from (seed, element index): no host RNG, no upload.
      return training && rate > 0 ? seededDropout(x, rate, seed) : x;
    };
    const linear = (path: string, x: tf.Tensor2D): tf.Tensor2D => this.linears.get(path)!.apply(x, training, nextSeed());

    if (Array.isArray(inputIds)) this.checkIdRange(inputIds);
    return tf.tidy(() => {
      const ids = toInt2D(inputIds, 'inputIds');
      const mask = toInt2D(attentionMask, 'attentionMask');
      if (ids.shape.join() !== mask.shape.join()) {
        throw new Error(`inputIds is [${ids.shape}] but attentionMask is [${mask.shape}]; they must match`);
      }
      const [B, T] = ids.shape;
      if (T > this.config.max_position_embeddings) {
        throw new Error(`sequence length ${T} exceeds max_position_embeddings ${this.config.max_position_embeddings}; truncate the inputs`);
      }
      // Padded keys get exactly FLOAT32_MIN in the scores, as HF's masked_fill (attention.ts).
      const keep = tf.cast(tf.notEqual(mask, 0), 'float32'); // [B, T]
      const attendWith = (keepMask: tf.Tensor) => (q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D): tf.Tensor2D =>
        selfAttention(q, k, v, keepMask, {
          batch: B, seqLen: T, heads: this.config.n_heads,
          dropoutRate: training ? this.config.attention_dropout : 0,
          seed: nextSeed(), // one dropout site, drawn where the weights' dropout always drew it
        });

      let x = this.embed(ids); // [B*T, C]
      x = dropout(x, this.config.dropout) as tf.Tensor2D;
      for (let i = 0; i < this.config.n_layers; i++) {
        if (!recompute) {
          // A tidy per layer frees its intermediates now, not when the whole forward ends (what
          // the backward needs is kept by tfjs' tape regardless): peak memory is one layer's.
          const input = x;
          x = tf.tidy(() => this.transformerBlock(i, input, attendWith(keep), linear, dropout));
          continue;
        }
        // First run records the layer's seeds; the backward's rerun replays them.
        const seeds: (number | undefined)[] = [];
        let first = true;
        // The mask goes in as a saved input: the backward's rerun comes after this tidy freed it.
        const block = (input: tf.Tensor2D, [keepMask]: tf.Tensor[]): tf.Tensor2D => {
          if (first) record = seeds;
          else replay = [...seeds];
          try {
            return this.transformerBlock(i, input, attendWith(keepMask), linear, dropout);
          } finally {
            first = false;
            record = null;
            replay = null;
          }
        };
        x = checkpointed(block, this.layerVariables(i), x, [keep]);
      }
      const cls = tf.reshape(tf.slice(tf.reshape(x, [B, T, -1]), [0, 0, 0], [B, 1, -1]), [B, -1]) as tf.Tensor2D; // [B, C]
      let h = tf.relu(linear('pre_classifier', cls)) as tf.Tensor2D;
      h = dropout(h, this.config.seq_classif_dropout) as tf.Tensor2D;
      return linear('classifier', h); // [B, numLabels]
    });
  }

  private param(name: string): tf.Tensor {
    return this.params.get(name)!;
  }

  private layerNorm(prefix: string, x: tf.Tensor2D): tf.Tensor2D {
    // Biased variance, as torch's LayerNorm; one fused pass each way on cpu/wasm.
    return layerNorm(x, this.param(`${prefix}.weight`), this.param(`${prefix}.bias`), LAYER_NORM_EPS);
  }

  private embed(ids: tf.Tensor2D): tf.Tensor2D {
    const [B, T] = ids.shape;
    const C = this.config.dim;
    const words = tf.gather(this.param('distilbert.embeddings.word_embeddings.weight'), tf.reshape(ids, [-1])); // [B*T, C]
    const positions = tf.slice(this.param('distilbert.embeddings.position_embeddings.weight'), [0, 0], [T, C]); // [T, C]
    const summed = tf.reshape(add(tf.reshape(words, [B, T, C]), positions), [B * T, C]) as tf.Tensor2D;
    return this.layerNorm('distilbert.embeddings.LayerNorm', summed);
  }

  private transformerBlock(
    i: number,
    x: tf.Tensor2D, // [B*T, C]
    attend: (q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D) => tf.Tensor2D,
    linear: (path: string, x: tf.Tensor2D) => tf.Tensor2D,
    dropout: (x: tf.Tensor, rate: number) => tf.Tensor,
  ): tf.Tensor2D {
    const p = `distilbert.transformer.layer.${i}`;
    // Self-attention on [B*T, C] projections; heads are split inside (backends/attention.ts).
    const q = linear(`${p}.attention.q_lin`, x);
    const k = linear(`${p}.attention.k_lin`, x);
    const v = linear(`${p}.attention.v_lin`, x);
    const merged = attend(q, k, v); // [B*T, C]
    // Additions through fused-ops' add: tfjs' own keeps both operands alive for the backward.
    const attended = this.layerNorm(`${p}.sa_layer_norm`, add(linear(`${p}.attention.out_lin`, merged), x));

    // Feed-forward with exact (erf) GELU, as torch's nn.GELU() default.
    const hidden = linear(`${p}.ffn.lin1`, attended); // [B*T, hidden]
    const ffn = dropout(linear(`${p}.ffn.lin2`, gelu(hidden)), this.config.dropout);
    return this.layerNorm(`${p}.output_layer_norm`, add(ffn, attended));
  }

  private checkIdRange(ids: number[][]): void {
    const V = this.config.vocab_size;
    for (let r = 0; r < ids.length; r++) {
      for (const id of ids[r]) {
        if (!Number.isInteger(id) || id < 0 || id >= V) {
          throw new Error(`inputIds row ${r} has token id ${id}, outside the vocabulary [0, ${V - 1}]: was the tokenizer made for this model?`);
        }
      }
    }
  }

  /** The trainable variables transformer layer i reads (its linears' and LayerNorms'). */
  private layerVariables(i: number): tf.Variable[] {
    const prefix = `distilbert.transformer.layer.${i}.`;
    const vars = [...this.params.entries()].filter(([name, v]) => name.startsWith(prefix) && v.trainable).map(([, v]) => v);
    for (const [path, layer] of this.linears) if (path.startsWith(prefix)) vars.push(...layer.trainableVariables());
    return vars;
  }

  /** Variables an optimizer should update: trainable params and each linear's trainable variables. */
  trainableVariables(): tf.Variable[] {
    const vars = [...this.params.values()].filter((v) => v.trainable);
    for (const layer of this.linears.values()) vars.push(...layer.trainableVariables());
    return vars;
  }

  /**
   * Every weight by HF parameter name (`....q_lin.weight` dequantized/merged for NF4/LoRA layers),
   * as fresh tensors: the caller disposes them. This is the model's state dict, for saving.
   */
  namedWeights(): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>();
    for (const [name, v] of this.params) out.set(name, tf.clone(v));
    for (const [path, layer] of this.linears) {
      out.set(`${path}.weight`, layer.weight());
      if (layer.bias) out.set(`${path}.bias`, tf.clone(layer.bias));
    }
    return out;
  }

  /** Number of parameters (NF4 weights count as their unquantized size); `trainableOnly` counts trainable variables. */
  numParameters(trainableOnly = false): number {
    if (trainableOnly) return this.trainableVariables().reduce((n, v) => n + v.size, 0);
    let n = 0;
    for (const v of this.params.values()) n += v.size;
    for (const layer of this.linears.values()) n += layer.inFeatures * layer.outFeatures + (layer.bias ? layer.bias.size : 0);
    return n;
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    for (const layer of this.linears.values()) layer.dispose();
    this.params.clear();
    this.linears.clear();
  }
}
