// What a training checkpoint holds, and how the Trainer writes and restores it (the folder
// layout and its atomic replacement are checkpointing.ts'):
//   trainer_state.json      step, data position, seed, arguments, log history (the role of HF's file of that name)
//   trainable.safetensors   every trainable variable, keyed by its position (p0, p1, …)
//   optimizer.safetensors   AdamW's first and second moments (m.<i>, v.<i>)
//   adapter/                the PEFT adapter, when the model can save one
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { AdamW, AdamWState } from './optimizer';
import { EvalEvent, StepEvent } from './callbacks';
import { TrainingArguments } from './training-args';
import { writeCheckpointDir } from './checkpointing';
import { writeFileAtomic } from '../util/atomic-write';
import { TensorToWrite, readSafetensors, writeSafetensors } from '../io/safetensors';

export const STATE_FILE = 'trainer_state.json';
const TRAINABLE_FILE = 'trainable.safetensors';
const OPTIMIZER_FILE = 'optimizer.safetensors';

/** trainer_state.json. */
export interface TrainerState {
  globalStep: number;
  epoch: number;
  stepInEpoch: number;
  seed: number;
  numExamples: number;
  stepsPerEpoch: number;
  totalSteps: number;
  warmupSteps: number;
  optimizerStep: number;
  args: TrainingArguments;
  trainableNames: string[];
  trainableShapes: number[][];
  history: { steps: StepEvent[]; evals: EvalEvent[] };
}

/**
 * Writes outputDir/checkpoint-<state.globalStep> atomically (and points `latest` at it):
 * the variables exactly, the optimizer's moments, the state, and the adapter if `saveAdapter`.
 */
export async function writeTrainerCheckpoint(
  outputDir: string,
  state: Omit<TrainerState, 'optimizerStep'>,
  params: tf.Variable[],
  optimizer: AdamW,
  saveAdapter?: (dir: string) => unknown,
): Promise<string> {
  // Keys are positions in trainableVariables() (tfjs variable names may differ between processes).
  const trainable: Record<string, TensorToWrite> = {};
  for (let i = 0; i < params.length; i++) {
    const p = params[i];
    trainable[`p${i}`] = { dtype: 'F32', shape: [...p.shape], data: (await p.data()) as Float32Array };
  }
  const opt = await optimizer.getState();
  const moments: Record<string, TensorToWrite> = {};
  opt.shapes.forEach((shape, i) => {
    moments[`m.${i}`] = { dtype: 'F32', shape, data: opt.m[i] };
    moments[`v.${i}`] = { dtype: 'F32', shape, data: opt.v[i] };
  });
  const full: TrainerState = { ...state, optimizerStep: opt.step };
  return writeCheckpointDir(outputDir, state.globalStep, async (tmp) => {
    writeSafetensors(path.join(tmp, TRAINABLE_FILE), trainable, { format: 'pt' });
    writeSafetensors(path.join(tmp, OPTIMIZER_FILE), moments, { format: 'pt' });
    if (saveAdapter) await saveAdapter(path.join(tmp, 'adapter'));
    writeFileAtomic(path.join(tmp, STATE_FILE), JSON.stringify(full, null, 1));
  });
}

/** The run a checkpoint must match to be resumed exactly. */
export interface RunShape {
  seed: number;
  numExamples: number;
  perDeviceTrainBatchSize: number;
  gradientAccumulationSteps: number;
  totalSteps: number;
  warmupSteps: number;
}

/**
 * Reads a checkpoint folder, checks that it belongs to a run of the same shape (else throws,
 * listing every difference), and restores the variables' values and the optimizer's state.
 * Returns the saved state (position and history).
 */
export function restoreTrainerCheckpoint(dir: string, run: RunShape, params: tf.Variable[], optimizer: AdamW): TrainerState {
  const state = JSON.parse(fs.readFileSync(path.join(dir, STATE_FILE), 'utf8')) as TrainerState;
  const mismatch: string[] = [];
  const expect = (what: string, saved: unknown, now: unknown) => {
    if (saved !== now) mismatch.push(`${what}: checkpoint ${saved}, now ${now}`);
  };
  expect('seed', state.seed, run.seed);
  expect('number of training examples', state.numExamples, run.numExamples);
  expect('perDeviceTrainBatchSize', state.args.perDeviceTrainBatchSize, run.perDeviceTrainBatchSize);
  expect('gradientAccumulationSteps', state.args.gradientAccumulationSteps, run.gradientAccumulationSteps);
  expect('total optimizer steps', state.totalSteps, run.totalSteps);
  expect('warm-up steps', state.warmupSteps, run.warmupSteps);
  expect('number of trainable variables', state.trainableNames.length, params.length);
  if (mismatch.length) {
    throw new Error(`Cannot resume exactly from ${dir}; the run differs from the one that saved it:\n  ${mismatch.join('\n  ')}`);
  }
  const tensors = readSafetensors(path.join(dir, TRAINABLE_FILE));
  params.forEach((p, i) => {
    const saved = tensors.get(`p${i}`);
    if (!saved || saved.dtype !== 'F32' || saved.data.length !== p.size) {
      throw new Error(
        `${dir}/${TRAINABLE_FILE}: variable ${i} ('${state.trainableNames[i]}') has ` +
          `${saved ? `shape [${saved.shape}]` : 'no entry'}, the model's '${p.name}' is [${p.shape}]`,
      );
    }
  });
  const moments = readSafetensors(path.join(dir, OPTIMIZER_FILE));
  const momentOf = (key: string): Float32Array => {
    const t = moments.get(key);
    if (!t || t.dtype !== 'F32') throw new Error(`${dir}/${OPTIMIZER_FILE}: missing F32 tensor '${key}'`);
    return t.data as Float32Array;
  };
  const opt: AdamWState = {
    step: state.optimizerStep,
    names: state.trainableNames,
    shapes: state.trainableShapes,
    m: params.map((_, i) => momentOf(`m.${i}`)),
    v: params.map((_, i) => momentOf(`v.${i}`)),
  };
  params.forEach((p, i) => {
    const t = tf.tensor(tensors.get(`p${i}`)!.data as Float32Array, p.shape, 'float32');
    p.assign(t);
    t.dispose();
  });
  optimizer.setState(opt);
  return state;
}
