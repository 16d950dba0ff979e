/**
 * A fake, allowed here because it injects a fault the real servers cannot produce on demand: a
 * TritonClient whose answers lack some of the outputs the model server returned (a model server
 * or ensemble that answers without a requested output). Everything else is the real client over
 * real gRPC.
 */
import { TritonClient } from '../src/triton/client.js';

export class OutputDroppingClient extends TritonClient {
  constructor(
    address: string,
    private readonly dropped: readonly string[],
  ) {
    super(address);
  }

  override async inferStreamed(...args: Parameters<TritonClient['inferStreamed']>): ReturnType<TritonClient['inferStreamed']> {
    const out = await super.inferStreamed(...args);
    for (const name of this.dropped) out.delete(name);
    return out;
  }
}
