/**
 * @module config/model-config-error
 * The one error type for a model configuration that cannot be used: unparsable, unreadable or invalid.
 */

/**
 * A model configuration problem, located like a compiler diagnostic so operators can jump to it.
 * `line` and `column` are 1-based and come from protoc's parser; both are 0 when the problem was
 * found after parsing (validation, normalisation, a missing file).
 *
 * @example
 * throw new ModelConfigError('m/config.pbtxt', 3, 12, 'Message type "inference.ModelConfig" has no field named "x".');
 * // message: 'm/config.pbtxt:3:12: Message type "inference.ModelConfig" has no field named "x".'
 */
export class ModelConfigError extends Error {
  /** The configuration file the problem belongs to (as given by the caller). */
  readonly file: string;
  /** 1-based line, or 0 when not known. */
  readonly line: number;
  /** 1-based column as protoc counts it (a tab advances to the next multiple of 8), or 0. */
  readonly column: number;
  /** What is wrong, without the location prefix. */
  readonly reason: string;

  constructor(file: string, line: number, column: number, reason: string) {
    super(`${file}:${line}:${column}: ${reason}`);
    this.name = 'ModelConfigError';
    this.file = file;
    this.line = line;
    this.column = column;
    this.reason = reason;
  }
}
