// Gradient checkpointing (HF's `gradient_checkpointing_enable()`, torch.utils.checkpoint): a
// block of layers keeps only its input for the backward pass and runs its forward again there.
// It trades one extra forward of the block for all its intermediate activations, which is what
// lets batch 8 × 512 train on the wasm backend (whose heap tops out at 2 GB in practice).
import * as tf from '@tensorflow/tfjs';

interface EngineInternals {
  state: { activeTape: unknown };
  gradients(f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor, allowNoGradients?: boolean): { value: tf.Tensor; grads: tf.Tensor[] };
}

/**
 * Runs `block(x, extras)` with gradients flowing to x and to `vars` (the trainable variables the
 * block reads), keeping only x and `extras` (other tensors it reads, e.g. the attention mask; no
 * gradient) for the backward pass, where the block runs again. `block` must be deterministic:
 * give it the same dropout seeds both times. x and the result are 2-D fp32.
 */
export function checkpointed(
  block: (x: tf.Tensor2D, extras: tf.Tensor[]) => tf.Tensor2D,
  vars: tf.Variable[],
  x: tf.Tensor2D,
  extras: tf.Tensor[] = [],
): tf.Tensor2D {
  const nSaved = 1 + extras.length;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const inputs = args.slice(0, nSaved) as tf.Tensor[];
    (args[args.length - 1] as tf.GradSaveFunc)(inputs);
    // No tape inside a custom op: the block's intermediates go as soon as it returns.
    const value = tf.tidy(() => block(inputs[0] as tf.Tensor2D, inputs.slice(1)));
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const engine = tf.engine() as unknown as EngineInternals;
      // A nested gradients() call replaces the engine's tape and clears it when done; the outer
      // backward pass still walks its own (filtered) copy but cleans up the tape at the end.
      const outerTape = engine.state.activeTape;
      try {
        const { value: y, grads } = engine.gradients(() => block(saved[0] as tf.Tensor2D, saved.slice(1)), [saved[0], ...vars], dy, true);
        y.dispose();
        const [dx, ...dvars] = grads.map((g, i) => g ?? tf.zerosLike(i === 0 ? saved[0] : vars[i - 1]));
        return [dx, ...saved.slice(1).map((t) => tf.zerosLike(t)), ...dvars];
      } finally {
        engine.state.activeTape = outerTape;
      }
    };
    return { value, gradFunc };
  });
  return f(x, ...extras, ...vars) as tf.Tensor2D;
}
