/**
 * A fake, allowed here because it injects a fault the real servers cannot produce on demand: a
 * TritonClient whose streamed answers are changed after the model server gave them (an output
 * left out, a tensor cut short), as a broken model server or ensemble would answer. Everything
 * else is the real client over real gRPC.
 */
import { type RawTensor, TritonClient } from '../src/triton/client.js';

export class AlteredAnswersClient extends TritonClient {
  constructor(
    address: string,
    private readonly alter: (outputs: Map<string, RawTensor>) => void,
  ) {
    super(address);
  }

  /** A client whose answers lack the outputs named. */
  static dropping(address: string, names: readonly string[]): AlteredAnswersClient {
    return new AlteredAnswersClient(address, (out) => names.forEach((n) => out.delete(n)));
  }

  override async inferStreamed(...args: Parameters<TritonClient['inferStreamed']>): ReturnType<TritonClient['inferStreamed']> {
    const out = await super.inferStreamed(...args);
    this.alter(out);
    return out;
  }
}
