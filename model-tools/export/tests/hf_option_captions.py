"""Transformers' own generate() with the gateway's caption options, on the model export_blip.py
--random-tiny wrote: the expected answers for check-gateway-captions.ts --generation.

  .venv/bin/python model-tools/export/tests/hf_option_captions.py --repo OUT --parity OUT-parity

Rebuilds the tiny BLIP from its seed (export_blip.tiny_model, the weights the export traced; the
encoder's output on the parity rows must equal caption_encoder.json's, or this exits 1), draws
IMAGES synthetic pictures, and runs BlipForConditionalGeneration.generate for each picture, with
and without the prompt, under every option set of OPTION_SETS: num_beams 2-4, max_new_tokens,
min_new_tokens, repetition_penalty, alone and together with beams. Each case also runs without
its option (its baseline) and records whether the option changed the token ids, so a test can
require that every option visibly changed some answer. Writes <parity>/caption_options.json (the
format of export_blip.py's caption_generation.json plus each case's options, `option`,
`changed`) and <parity>/caption_options_pixels.json (transformers' pixel_values of the
pictures, saved as <parity>/images/options-N.png for the HTTP path).
"""
from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parents[1] / 'python'))

import export_blip as xb  # noqa: E402
import export_common as ec  # noqa: E402

IMAGES = 2
# Per picture and prompt, the cases and what each is compared with (its baseline): num_beams
# against greedy; repetition_penalty (the range where processing the logits before log-softmax
# and after it pick different beams) against the same search without it; max_new_tokens two
# below, and min_new_tokens three above, the baseline's length, so each must change the answer.
BEAMS = (2, 4)
PENALTIES = ((1, 1.3), (1, 2.0), (2, 1.6), (3, 1.3), (3, 2.0))
LENGTH_SEARCHES = (1, 3)
DEFAULTS = {'num_beams': 1, 'min_new_tokens': 0, 'repetition_penalty': 1.0}


def decode_rows(record: dict):
    import numpy as np
    import torch
    data = np.frombuffer(base64.b64decode(record['b64']), dtype='<f4').reshape(record['shape'])
    return torch.from_numpy(data.copy())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--repo', type=Path, required=True)
    ap.add_argument('--parity', type=Path, required=True)
    ap.add_argument('--seed', type=int, default=0, help="export_blip.py's --seed (default 0)")
    args = ap.parse_args()

    import torch
    from tokenizers import Tokenizer
    from transformers import BlipImageProcessorPil, PreTrainedTokenizerFast
    from common import tensor_record

    model = xb.tiny_model(args.seed)
    # The same weights as the export, or every expectation here would be about another model.
    encoder = json.loads((args.parity / 'caption_encoder.json').read_text())
    with torch.no_grad():
        embeds = model.vision_model(pixel_values=decode_rows(encoder['inputs']['pixel_values']), return_dict=False)[0]
    drift = float((embeds - decode_rows(encoder['outputs']['image_embeds'])).abs().max())
    if drift > 1e-4:
        print(f'hf_option_captions: the rebuilt model is not the exported one (image_embeds max |diff| {drift:.3g})', file=sys.stderr)
        return 1

    tokenizer_file = args.repo / 'caption_decoder' / 'tokenizer.json'
    tok = Tokenizer.from_file(str(tokenizer_file))
    hf_tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(tokenizer_file))
    bos, eos = model.config.text_config.bos_token_id, model.config.text_config.sep_token_id
    processor = BlipImageProcessorPil()
    size = model.config.vision_config.image_size
    (args.parity / 'images').mkdir(parents=True, exist_ok=True)
    # Other pictures than the export's (seeds 100+), resized as the export resizes and saved
    # losslessly, so the gateway's own resize to the same size leaves their pixels unchanged.
    pictures = [xb.synthetic_photo(100 + args.seed + i).resize((size, size), 3) for i in range(IMAGES)]
    for i, im in enumerate(pictures):
        im.save(args.parity / 'images' / f'options-{i}.png')
    pixel_values = torch.cat([processor(images=im, return_tensors='pt')['pixel_values'] for im in pictures]).float()

    def entry(i: int, prompt: str, prefix: list[int], hf: list[int], option: str, changed: bool, options: dict) -> dict:
        ended = hf[-1] == eos and len(hf) > len(prefix)
        generated = hf[len(prefix):len(hf) - ended]
        return {
            'image': f'options-{i}', 'image_file': f'images/options-{i}.png', 'pixel_row': i, 'prompt': prompt, **options,
            'option': option, 'changed': changed,
            'transformers_ids': hf, 'transformers_text': hf_tokenizer.decode(generated, skip_special_tokens=True).strip(),
            'transformers_caption': hf_tokenizer.decode(hf[1:len(hf) - ended], skip_special_tokens=True).strip(),
            'transformers_tokens': len(generated), 'transformers_finish': 'eos' if ended else 'length',
        }

    def run(i: int, prompt: str, options: dict) -> list[int]:
        prefix_len = len(xb.gateway_prefix(tok.encode(prompt).ids, bos))
        o = {**DEFAULTS, 'max_new_tokens': xb.HF_MAX_LENGTH - prefix_len, **options}
        # HF's defaults spelt out, as export_blip.py does; max_new_tokens and min_new_tokens count
        # tokens after [DEC] and the prompt, as the gateway's options do.
        kwargs = dict(do_sample=False, length_penalty=1.0, early_stopping=False, no_repeat_ngram_size=0, num_return_sequences=1, **o)
        if prompt:
            ids = torch.tensor([tok.encode(prompt).ids])
            kwargs.update(input_ids=ids, attention_mask=torch.ones_like(ids))
        with torch.no_grad():
            return model.generate(pixel_values=pixel_values[i:i + 1], **kwargs)[0].tolist()

    captions = []
    for i in range(IMAGES):
        for prompt in ('', xb.PROMPT_TEMPLATE.format(label=ec.FOOD11_LABELS[i % len(ec.FOOD11_LABELS)])):
            prefix = xb.gateway_prefix(tok.encode(prompt).ids, bos)
            budget = xb.HF_MAX_LENGTH - len(prefix)
            runs: dict[tuple, list[int]] = {}

            def case(option: str, options: dict) -> list[int]:
                """transformers' ids for `options`, recorded as a case when `option` is named."""
                key = tuple(sorted(options.items()))
                if key not in runs:
                    runs[key] = run(i, prompt, options)
                hf = runs[key]
                if option:
                    baseline = case('', {k: v for k, v in options.items() if k != option})
                    captions.append(entry(i, prompt, prefix, hf, option, hf != baseline, {**DEFAULTS, 'max_new_tokens': budget, **options}))
                return hf

            for beams in BEAMS:
                case('num_beams', {'num_beams': beams})
            for beams, penalty in PENALTIES:
                case('repetition_penalty', {'num_beams': beams, 'repetition_penalty': penalty})
            for beams in LENGTH_SEARCHES:
                base = case('', {'num_beams': beams})
                tokens, ended = len(base) - len(prefix) - (base[-1] == eos), base[-1] == eos
                if tokens >= 2:
                    case('max_new_tokens', {'num_beams': beams, 'max_new_tokens': tokens - 2 if tokens > 2 else 1})
                if ended and tokens + 3 <= budget:
                    case('min_new_tokens', {'num_beams': beams, 'min_new_tokens': tokens + 3})
    (args.parity / 'caption_options_pixels.json').write_text(json.dumps({'inputs': {'pixel_values': tensor_record(pixel_values)}}) + '\n')
    doc = {'hf_max_length': xb.HF_MAX_LENGTH, 'pixel_file': 'caption_options_pixels.json', 'captions': captions}
    (args.parity / 'caption_options.json').write_text(json.dumps(doc, indent=1) + '\n')
    for option in sorted({c['option'] for c in captions}):
        of = [c for c in captions if c['option'] == option]
        print(f'hf_option_captions: {option}: {sum(c["changed"] for c in of)}/{len(of)} captions changed by it')
    print(f'hf_option_captions: wrote {len(captions)} captions to {args.parity / "caption_options.json"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
