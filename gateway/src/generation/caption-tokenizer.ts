/**
 * @module generation/caption-tokenizer
 * Prompt and caption text ⇄ token ids, through Hugging Face's own JavaScript tokenizer
 * (@huggingface/tokenizers) reading the model's tokenizer.json, with BLIP's prompt handling.
 */
import { Tokenizer } from '@huggingface/tokenizers';

export class CaptionTokenizer {
  private constructor(
    private readonly tokenizer: Tokenizer,
    private readonly bosTokenId: number,
  ) {}

  /** `json` is the parsed tokenizer.json; `bosTokenId` the decoder start token ([DEC]). */
  static fromJson(json: object, bosTokenId: number): CaptionTokenizer {
    return new CaptionTokenizer(new Tokenizer(json as ConstructorParameters<typeof Tokenizer>[0], {}), bosTokenId);
  }

  /**
   * The decoder's starting sequence for `prompt`. As BLIP's generate does: tokenise with special
   * tokens ([CLS] prompt [SEP]), put the start token in place of [CLS], drop the final [SEP].
   */
  prefix(prompt: string): number[] {
    const ids = this.tokenizer.encode(prompt).ids;
    return [this.bosTokenId, ...ids.slice(1, -1)];
  }

  /** Text of `ids` with special tokens dropped and WordPiece pieces joined. */
  decode(ids: readonly number[]): string {
    // The library rejects an empty list; a caption that ends at once (eos first) is empty text.
    if (ids.length === 0) return '';
    return this.tokenizer.decode([...ids], { skip_special_tokens: true }).trim();
  }
}
