// Counts what a piece of tfjs code asks of the device: kernels run through the engine, tensors
// made from JavaScript values (uploads: every tf.scalar, every JS number given to an op; the
// engine's makeTensor, not the backend's write, which the cpu backend also uses for its kernels'
// outputs), and read-backs (tensor.data()/dataSync()/array() all end in the engine's read/readSync).
// Kernels a backend runs inside another kernel never reach the engine and are not counted.
import * as tf from '@tensorflow/tfjs';

export interface DeviceTraffic {
  /** Names of the kernels run, in order (Reshape etc. included: they are free on most backends). */
  kernels: string[];
  uploads: number;
  readBacks: number;
}

type Patchable = Record<string, (...args: unknown[]) => unknown>;

export type TrafficEvent = { kind: 'kernel'; name: string } | { kind: 'upload' } | { kind: 'readBack' };

/** Runs `fn` (sync or async) with the engine instrumented; `listener` sees every event in order. */
export async function countDeviceTraffic<T>(fn: () => T | Promise<T>, listener?: (e: TrafficEvent) => void): Promise<{ result: T; traffic: DeviceTraffic }> {
  const traffic: DeviceTraffic = { kernels: [], uploads: 0, readBacks: 0 };
  const engine = tf.engine() as unknown as Patchable;
  const saved = { runKernelFunc: engine.runKernelFunc, read: engine.read, readSync: engine.readSync, makeTensor: engine.makeTensor };
  engine.runKernelFunc = function (this: unknown, params: unknown) {
    const name = (params as { kernelName?: string }).kernelName ?? '(custom op)';
    traffic.kernels.push(name);
    listener?.({ kind: 'kernel', name });
    return saved.runKernelFunc.call(this, params);
  };
  engine.read = function (this: unknown, ...args: unknown[]) {
    traffic.readBacks += 1;
    listener?.({ kind: 'readBack' });
    return saved.read.apply(this, args);
  };
  engine.readSync = function (this: unknown, ...args: unknown[]) {
    traffic.readBacks += 1;
    listener?.({ kind: 'readBack' });
    return saved.readSync.apply(this, args);
  };
  engine.makeTensor = function (this: unknown, ...args: unknown[]) {
    traffic.uploads += 1;
    listener?.({ kind: 'upload' });
    return saved.makeTensor.apply(this, args);
  };
  try {
    const result = await fn();
    return { result, traffic };
  } finally {
    Object.assign(engine, saved);
  }
}

/** Kernels that only relabel a tensor's shape or share its data: no work on any backend we use. */
export const SHAPE_ONLY_KERNELS = new Set(['Reshape', 'Identity']);

/** The kernels that do work, i.e. dispatches on a GPU. */
export function dispatches(traffic: DeviceTraffic): number {
  return traffic.kernels.filter((k) => !SHAPE_ONLY_KERNELS.has(k)).length;
}
