// What the Trainer needs from a model, and what it reads off one: the HF names of its trainable
// variables (for AdamW's no-decay rule and for messages) and its number of classes.
import * as tf from '@tensorflow/tfjs';
import { EncodedDataset, gatherBatch } from './collate';

/** What the Trainer needs from a model; `PeftModel` and `DistilBertForSequenceClassification` have it. */
export interface TrainableModel {
  /** Class scores [B, numLabels] (float32) for int32 token ids and attention mask [B, T]. */
  logits(inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D, opts?: { training?: boolean; dropoutSeed?: number }): tf.Tensor2D;
  trainableVariables(): tf.Variable[];
  /** Optional: trainable variables by HF parameter name (for the no-decay rule and messages). */
  namedTrainableVariables?(): Map<string, tf.Variable>;
  /** Optional: writes a PEFT adapter folder (PeftModel.saveAdapter), included in every checkpoint. */
  saveAdapter?(dir: string, opts?: { baseModelNameOrPath?: string | null }): unknown;
}

/**
 * HF names of the trainable variables: from `namedTrainableVariables()` when the model has it,
 * else read off a DistilBERT-shaped model (`params` and `linears` maps, possibly wrapped in a
 * PeftModel's `.model`), else the tfjs variable names.
 */
export function parameterNames(model: TrainableModel, params: tf.Variable[]): Map<tf.Variable, string> {
  const names = new Map<tf.Variable, string>();
  if (typeof model.namedTrainableVariables === 'function') {
    for (const [name, v] of model.namedTrainableVariables()) names.set(v, name);
  } else {
    const inner = ((model as { model?: unknown }).model ?? model) as { params?: unknown; linears?: unknown };
    if (inner.params instanceof Map && inner.linears instanceof Map) {
      for (const [name, v] of inner.params as Map<string, tf.Variable>) names.set(v, name);
      for (const [path, layer] of inner.linears as Map<string, Record<string, unknown>>) {
        const fields: [string, string][] = [['weightVar', 'weight'], ['bias', 'bias'], ['loraA', 'lora_A.weight'], ['loraB', 'lora_B.weight']];
        for (const [field, suffix] of fields) {
          const v = layer[field];
          if (v instanceof tf.Variable) names.set(v, `${path}.${suffix}`);
        }
      }
    }
  }
  return new Map(params.map((p) => [p, names.get(p) ?? p.name]));
}

/**
 * The number of classes: the model's own count (`numLabels`, or its config's, as
 * DistilBertForSequenceClassification and PeftModel have it), else the width of its logits
 * for one example (an eval-mode forward pass, no training step).
 */
export function numLabelsOf(model: TrainableModel, data: EncodedDataset): number {
  const m = model as { numLabels?: unknown; config?: { numLabels?: unknown }; model?: { config?: { numLabels?: unknown } } };
  const declared = m.numLabels ?? m.config?.numLabels ?? m.model?.config?.numLabels;
  if (typeof declared === 'number' && Number.isInteger(declared) && declared > 0) return declared;
  return tf.tidy(() => {
    const { inputIds, attentionMask } = gatherBatch(data, [0]);
    return model.logits(inputIds, attentionMask, { training: false }).shape[1];
  });
}

