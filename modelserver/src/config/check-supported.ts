/**
 * @module config/check-supported
 * Refuses the config fields this server cannot serve with Triton's semantics, so a model that
 * asks for one fails its own load with a reason naming the field instead of loading with other
 * semantics. Triton itself (2.51, python backend) loads every one of them.
 */
import { type ModelConfig, ModelInstanceGroup_Kind } from '../../../proto/gen/model_config.js';
import type { FailFn } from './validate-io.js';

/** The start of every reason {@link checkSupported} gives, for operators and tests to match. */
export const UNSUPPORTED = 'UNSUPPORTED';

/**
 * Throws when `config` (normalised) sets a field this server does not implement; the reason
 * names every such field. Accepted as Triton's onnxruntime backend treats them:
 *
 * - `response_cache { enable: true }`: Triton caches only when the server also has a cache
 *   (`--cache-config`); this server has none, so it serves the model uncached, as Triton does
 *   when started without one (it loads such a model without a word).
 * - `optimization.graph`: ONNX Runtime's graph optimisation level, which changes speed, not
 *   results; this server's sessions use their own level (backend/session-options.ts).
 * - `optimization.priority`, `cuda`, `input_pinned_memory`, `output_pinned_memory`,
 *   `gather_kernel_buffer_threshold`, `eager_batching`: GPU stream and transfer settings, or
 *   TensorRT-only ones, which the onnxruntime backend does not read.
 * - `optimization.execution_accelerators.gpu_execution_accelerator` on a model without KIND_GPU
 *   groups: the onnxruntime backend applies it to GPU instances only.
 *
 * - `use_same_buffer_for_input_output` on a state: a buffer-sharing choice; the model sees the same
 *   values either way.
 *
 * Refused: `sequence_batching { iterative_sequence }`, a state's `use_growable_memory`,
 * `model_transaction_policy { decoupled: true }`,
 * `allow_ragged_batch`, `batch_input`, `batch_output`, a `cpu_execution_accelerator` (Triton runs
 * OpenVINO or fails the load; this server runs neither), and a `gpu_execution_accelerator` where
 * a KIND_GPU group exists (TensorRT, possibly at another precision; this server runs those
 * groups on plain ONNX Runtime).
 *
 * @param fail builds the error for the combined reason
 * @throws the error `fail` builds, its reason starting with {@link UNSUPPORTED}
 * @example
 * checkSupported(config, (reason) => new ModelConfigError(file, 0, 0, reason));
 */
export function checkSupported(config: ModelConfig, fail: FailFn): void {
  const problems: string[] = [];
  const sequence = config.sequenceBatching;
  if (sequence?.iterativeSequence) {
    problems.push("'sequence_batching { iterative_sequence: true }': this server's backend never reschedules a request");
  }
  for (const state of sequence?.state ?? []) {
    if (state.useGrowableMemory) {
      problems.push(`'use_growable_memory' on state '${state.inputName}': a CUDA-only state buffer, and this server keeps states in CPU memory`);
    }
  }
  if (config.modelTransactionPolicy?.decoupled) {
    problems.push("'model_transaction_policy { decoupled: true }': this server sends exactly one response per request");
  }
  for (const input of config.input) {
    if (input.allowRaggedBatch) {
      problems.push(
        `'allow_ragged_batch' on input '${input.name}': this server batches only requests whose shapes agree and never flattens a ragged input`,
      );
    }
  }
  if (config.batchInput.length > 0) {
    problems.push(`'batch_input' (${config.batchInput.map((b) => `'${b.targetName.join(',')}'`).join(', ')}): this server does not generate batch inputs`);
  }
  if (config.batchOutput.length > 0) {
    problems.push(`'batch_output' (${config.batchOutput.map((b) => `'${b.targetName.join(',')}'`).join(', ')}): this server does not scatter batch outputs`);
  }
  const accelerators = config.optimization?.executionAccelerators;
  const cpu = accelerators?.cpuExecutionAccelerator ?? [];
  if (cpu.length > 0) {
    problems.push(
      `'optimization.execution_accelerators.cpu_execution_accelerator' (${cpu.map((a) => `'${a.name}'`).join(', ')}): this server runs ONNX Runtime's default CPU provider only`,
    );
  }
  const gpu = accelerators?.gpuExecutionAccelerator ?? [];
  if (gpu.length > 0 && config.instanceGroup.some((g) => g.kind === ModelInstanceGroup_Kind.KIND_GPU)) {
    problems.push(
      `'optimization.execution_accelerators.gpu_execution_accelerator' (${gpu.map((a) => `'${a.name}'`).join(', ')}) with a KIND_GPU instance group: this server runs GPU groups without them`,
    );
  }
  if (problems.length > 0) {
    throw fail(`${UNSUPPORTED}: model '${config.name}' sets ${problems.join('; ')}`);
  }
}
