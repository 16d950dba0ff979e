/**
 * @module backend/session-options
 * The ONNX Runtime settings a model instance runs with: its intra-op thread count, read from
 * config.pbtxt as Triton's onnxruntime backend reads it, and the session options. Exported so
 * that in-process references (benchmarks, model checks) run a model exactly as it is served.
 */
import { availableParallelism } from 'node:os';
import type * as ort from 'onnxruntime-node';
import { type ModelConfig, ModelInstanceGroup_Kind } from '../../../proto/gen/model_config.js';

/**
 * The `intra_op_thread_count` parameter Triton's onnxruntime backend reads from config.pbtxt, if
 * set to a positive integer; 0 or unset leaves the choice to the server (cores shared out).
 */
export function configuredThreads(config: ModelConfig): number | undefined {
  const value = Number(config.parameters['intra_op_thread_count']?.stringValue);
  return Number.isInteger(value) && value > 0 ? value : undefined;
}

/** Instances one group asks for: `count` per listed GPU for KIND_GPU, else `count`. */
export function instancesInGroup(kind: ModelInstanceGroup_Kind, count: number, gpus: readonly number[]): number {
  const c = Math.max(1, count);
  return kind === ModelInstanceGroup_Kind.KIND_GPU ? c * Math.max(1, gpus.length) : c;
}

/**
 * Intra-op threads of each instance of `config` (normalised): the configured count, else the
 * cores shared out between the model's instances, so all are used and none oversubscribed.
 */
export function intraOpThreadsOf(config: ModelConfig, cores = availableParallelism()): number {
  const total = config.instanceGroup.reduce((n, g) => n + instancesInGroup(g.kind, g.count, g.gpus), 0);
  return configuredThreads(config) ?? Math.max(1, Math.floor(cores / Math.max(1, total)));
}

/**
 * Session options of one instance.
 *
 * @example
 * await ort.InferenceSession.create(path, onnxSessionOptions(intraOpThreadsOf(config)));
 */
export function onnxSessionOptions(intraOpThreads: number, executionProviders: readonly string[] = ['cpu']): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    executionProviders: [...executionProviders],
    // Idle intra-op threads spin by default, burning the cores the gRPC event loop and the
    // other instances need; a server with several sessions must let them sleep. Spinning also
    // made a lone in-process loop slower here: 16.5 vs 11 ms per caption with two threads.
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
}
