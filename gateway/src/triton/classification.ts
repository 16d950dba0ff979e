/**
 * @module triton/classification
 * Reads results of KServe's classification extension: an output requested with the
 * `classification` parameter comes back as BYTES [batch, k], each element
 * `<score>:<index>[:<label>]`, highest score first, labels from the model's `label_filename`.
 * The gateway learns class names this way, never from files of its own.
 */

/** One ranked class. */
export interface ClassScore {
  readonly label: string;
  readonly index: number;
  readonly score: number;
}

/**
 * Splits a BYTES tensor's raw contents into its elements: each is a 4-byte little-endian length
 * followed by that many bytes (the KServe raw layout).
 */
export function bytesElements(raw: Uint8Array): Uint8Array[] {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: Uint8Array[] = [];
  for (let at = 0; at < raw.byteLength; ) {
    if (at + 4 > raw.byteLength) throw new Error('BYTES tensor ends inside a length prefix');
    const length = view.getUint32(at, true);
    at += 4;
    if (at + length > raw.byteLength) throw new Error(`BYTES element of ${length} bytes overruns the tensor`);
    out.push(raw.subarray(at, at + length));
    at += length;
  }
  return out;
}

const decoder = new TextDecoder();

/**
 * The classification results of one output, in rank order. Labels may contain ':'; the score
 * and index never do, so the string is split at its first two colons only.
 */
export function parseClassification(raw: Uint8Array): ClassScore[] {
  return bytesElements(raw).map((element) => {
    const text = decoder.decode(element);
    const first = text.indexOf(':');
    const second = text.indexOf(':', first + 1);
    const score = Number(text.slice(0, first));
    const index = Number(second < 0 ? text.slice(first + 1) : text.slice(first + 1, second));
    if (first < 0 || !Number.isFinite(score) || !Number.isInteger(index)) throw new Error(`not a classification result: '${text}'`);
    return { score, index, label: second < 0 ? String(index) : text.slice(second + 1) };
  });
}
