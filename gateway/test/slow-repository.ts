/**
 * @module gateway/test/slow-repository
 * A copy of the model repository whose chosen models answer late by configuration alone: their
 * dynamic batcher waits `max_queue_delay_microseconds` for a batch of max_batch_size that never
 * comes, so every request of a test sits in the queue for that long before it runs. A real
 * delay, the same on the embedded server and on tritonserver, and large against a busy machine's
 * noise; the models themselves are the committed ones.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPOSITORY } from './helpers.js';

export interface SlowRepository {
  readonly path: string;
  remove(): void;
}

/**
 * Copies the test repository and delays each model in `delaysMs` by that many milliseconds.
 * `copies` first adds models under new names, copied from others (`{ slow_decoder: 'caption_decoder' }`),
 * so one server can serve a model both as it is and slowed.
 */
export function slowRepository(delaysMs: Readonly<Record<string, number>>, copies: Readonly<Record<string, string>> = {}): SlowRepository {
  const path = mkdtempSync(join(tmpdir(), 'slow-repository-'));
  cpSync(REPOSITORY, path, { recursive: true });
  for (const [name, from] of Object.entries(copies)) {
    cpSync(join(REPOSITORY, from), join(path, name), { recursive: true });
    rewriteConfigs(join(path, name), (text) => text.replace(`name: "${from}"`, `name: "${name}"`));
  }
  for (const [model, ms] of Object.entries(delaysMs)) {
    rewriteConfigs(join(path, model), (text, file) => {
      const maxBatch = /max_batch_size:\s*(\d+)/.exec(text)?.[1];
      if (!maxBatch) throw new Error(`${model}/${file}: no max_batch_size, so no dynamic batcher to slow down`);
      // The whole block goes, its queue policy too: a held request must not time out in the queue.
      const batching = `dynamic_batching { preferred_batch_size: [ ${maxBatch} ] max_queue_delay_microseconds: ${ms * 1000} }`;
      const block = /dynamic_batching\s*\{(?:[^{}]|\{[^{}]*\})*\}/;
      return block.test(text) ? text.replace(block, batching) : `${text}\n${batching}\n`;
    });
  }
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * Rewrites a model's config.pbtxt and the configs/*.pbtxt beside it (Triton's
 * --model-config-name choices) with `rewrite(text, file)`.
 */
export function rewriteConfigs(dir: string, rewrite: (text: string, file: string) => string): void {
  const configs = join(dir, 'configs');
  for (const file of ['config.pbtxt', ...(existsSync(configs) ? readdirSync(configs).map((f) => join('configs', f)) : [])]) {
    writeFileSync(join(dir, file), rewrite(readFileSync(join(dir, file), 'utf8'), file));
  }
}
