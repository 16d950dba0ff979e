/**
 * @module triton/classification
 * Reads results of KServe's classification extension: an output requested with the
 * `classification` parameter comes back as BYTES [batch, k], each element
 * `<score>:<index>[:<label>]`, highest score first, labels from the model's `label_filename`.
 * The gateway learns class names this way, never from files of its own.
 */
// The BYTES raw layout is the protocol's, so the client splits it with the model server's own
// splitter (a pure function, no server state) rather than a second copy.
import { splitBytesElements } from '../../../modelserver/src/tensors/tensor.js';

/** One ranked class. */
export interface ClassScore {
  readonly label: string;
  readonly index: number;
  readonly score: number;
}

const decoder = new TextDecoder();

/**
 * The classification results of one output, in rank order. Labels may contain ':'; the score
 * and index never do, so the string is split at its first two colons only.
 */
export function parseClassification(raw: Uint8Array): ClassScore[] {
  return splitBytesElements(raw).map((element) => {
    const text = decoder.decode(element);
    const first = text.indexOf(':');
    const second = text.indexOf(':', first + 1);
    const score = Number(text.slice(0, first));
    const indexText = second < 0 ? text.slice(first + 1) : text.slice(first + 1, second);
    // Number('') is 0: an empty index must not read as class 0.
    const index = /^\d+$/.test(indexText) ? Number(indexText) : NaN;
    if (first < 0 || !Number.isFinite(score) || !Number.isInteger(index)) throw new Error(`not a classification result: '${text}'`);
    return { score, index, label: second < 0 ? String(index) : text.slice(second + 1) };
  });
}
