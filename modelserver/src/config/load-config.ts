/**
 * @module config/load-config
 * Chooses and reads a model's configuration file the way Triton does (kserve-v2-grpc.md §4.2).
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelConfig } from '../../../proto/gen/model_config.js';
import { ModelConfigError } from './model-config-error.js';
import { parseModelConfigText } from './parse-config.js';

/** Options of {@link loadModelConfig}. */
export interface LoadModelConfigOptions {
  /**
   * Triton's `--model-config-name`: prefer `<modelDir>/configs/<configName>.pbtxt` when it exists.
   * Must not contain spaces.
   */
  configName?: string;
}

/** A parsed configuration and the file it came from. */
export interface LoadedModelConfig {
  config: ModelConfig;
  /** The path that was read, for error messages and for watching changes. */
  file: string;
}

/**
 * Reads and parses the configuration of one model directory. The result is the raw file content;
 * normalise and validate it before use.
 *
 * With `configName`, `<modelDir>/configs/<configName>.pbtxt` wins when it exists and
 * `<modelDir>/config.pbtxt` is the fallback; without it, config.pbtxt is always used. A missing
 * config.pbtxt is an error because this server does not auto-generate configurations.
 *
 * @throws RangeError when `configName` contains a space (Triton rejects such a name at startup)
 * @throws ModelConfigError when no config file exists or the file does not parse
 * @example
 * const { config, file } = await loadModelConfig('/models/captioner', { configName: 'cpu' });
 */
export async function loadModelConfig(
  modelDir: string,
  options: LoadModelConfigOptions = {},
): Promise<LoadedModelConfig> {
  const file = await chooseConfigFile(modelDir, options.configName);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const reason = isNotFound(error)
      ? 'model configuration file not found (config.pbtxt is required)'
      : `unable to read model configuration: ${(error as Error).message}`;
    throw new ModelConfigError(file, 0, 0, reason);
  }
  return { config: parseModelConfigText(text, file), file };
}

async function chooseConfigFile(modelDir: string, configName: string | undefined): Promise<string> {
  const defaultFile = join(modelDir, 'config.pbtxt');
  // An empty name is the same as no --model-config-name.
  if (configName === undefined || configName === '') return defaultFile;
  if (configName.includes(' ')) {
    throw new RangeError(`model config name '${configName}' must not contain spaces`);
  }
  const customFile = join(modelDir, 'configs', `${configName}.pbtxt`);
  return (await isFile(customFile)) ? customFile : defaultFile;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}
