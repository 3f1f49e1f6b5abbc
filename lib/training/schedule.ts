// Learning-rate schedules, as multipliers of the base learning rate.
//
// Same formulas as Hugging Face `transformers.optimization`: the schedule is evaluated at the
// number of optimizer steps already taken (0 for the first update), so with warm-up the very
// first update uses lr = 0, exactly as `get_linear_schedule_with_warmup` + `LambdaLR` do.

export type LrSchedulerType = 'linear' | 'constant' | 'constant_with_warmup' | 'cosine';

/** HF `get_linear_schedule_with_warmup`: 0 → 1 over the warm-up, then linearly down to 0 at `totalSteps`. */
export function linearWithWarmup(step: number, warmupSteps: number, totalSteps: number): number {
  if (step < warmupSteps) return step / Math.max(1, warmupSteps);
  return Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
}

/** HF `get_cosine_schedule_with_warmup` with half a cosine wave (num_cycles = 0.5). */
export function cosineWithWarmup(step: number, warmupSteps: number, totalSteps: number): number {
  if (step < warmupSteps) return step / Math.max(1, warmupSteps);
  const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * 2 * 0.5 * progress)));
}

/** HF `TrainingArguments.get_warmup_steps`: an explicit step count wins, else ceil(ratio · total). */
export function warmupStepsFor(totalSteps: number, warmupSteps: number, warmupRatio: number): number {
  if (!(warmupSteps >= 0) || !(warmupRatio >= 0) || warmupRatio > 1) {
    throw new Error(`warmupSteps must be ≥ 0 and warmupRatio in [0, 1] (got ${warmupSteps}, ${warmupRatio})`);
  }
  return warmupSteps > 0 ? warmupSteps : Math.ceil(totalSteps * warmupRatio);
}

/** The learning rate for the update that follows `step` completed optimizer steps. */
export function learningRateAt(
  type: LrSchedulerType,
  baseLr: number,
  step: number,
  warmupSteps: number,
  totalSteps: number,
): number {
  switch (type) {
    case 'linear':
      return baseLr * linearWithWarmup(step, warmupSteps, totalSteps);
    case 'cosine':
      return baseLr * cosineWithWarmup(step, warmupSteps, totalSteps);
    case 'constant_with_warmup':
      return baseLr * (step < warmupSteps ? step / Math.max(1, warmupSteps) : 1);
    case 'constant':
      return baseLr;
    default:
      throw new Error(`Unknown lrScheduler '${type as string}': use linear, cosine, constant or constant_with_warmup`);
  }
}
