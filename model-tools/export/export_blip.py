"""Exports Salesforce/blip-image-captioning-base (a local Hugging Face snapshot) to the Triton model
repository with the interface of the demo captioner (model-tools/python/captioner.py), so the
gateway serves either without changes:

  caption_encoder  pixel_values FP32 [B,3,384,384] -> image_embeds FP32 [B,577,768]
                   (vision_model last_hidden_state, after post_layernorm)
  caption_decoder  input_ids INT64 [B,L], attention_mask INT64 [B,L],
                   image_embeds FP32 [B,577,768]    -> logits FP32 [B,30524]
                   (text_decoder with cross-attention to image_embeds, image mask all ones;
                   logits of the last attended position attention_mask.sum(1)-1; positions
                   0..L-1, right padding, L fixed by --max-length)
  caption_decoder_cached  the same decoder with its state kept by the server, one caption one
                   Triton sequence (model-tools/cached-decoder.md; cached_blip_decoder.py): the
                   prefix and image_embeds on START, then one token per beam -> the top 16
                   candidates after transformers' processors; cache capacity L

  .venv/bin/python model-tools/export/export_blip.py --checkpoint blip-image-captioning-base --repo OUT \\
      [--max-length 40] [--images a.jpg b.jpg ...] [--parity DIR] [--no-check]
  .venv/bin/python model-tools/export/export_blip.py --random-tiny --repo OUT   (no weights needed)
  .venv/bin/python model-tools/export/export_blip.py --random-base [--repo OUT]
      (BLIP-base's architecture, random weights, for benchmarks; default OUT
       .cache/blip-base-random/model_repository, never the served model_repository/)

Needs the project's .venv (transformers with tokenizers and safetensors, torch, onnx, onnxruntime,
numpy, pillow; bash scripts/setup-python.sh): see README.md.

Writes caption_encoder/1/model.onnx, caption_decoder/1/model.onnx, caption_decoder/tokenizer.json
(the checkpoint's), caption_decoder_cached/1/model.onnx with a copy of that tokenizer.json, the
three config.pbtxt files and their configs/cpu|gpu|dynamic|multi_gpu.pbtxt
variants, the food_caption ensemble (config.pbtxt, labels.txt from food_classifier/labels.txt or
the Food-11 classes, empty 1/), all rendered by triton_configs.py as the demo's are (same tensor
names, parameter keys and scheduling; BLIP's dims and values), and in the parity directory
caption_encoder.json / caption_decoder.json (inputs and PyTorch outputs, for
model-tools/check/check-parity.ts) and caption_generation.json (the caption comparison).

Parity, on each test image (two synthetic ones when --images is not given) resized to S x S and
saved as <parity>/images/NAME.png, unconditional and with the prompt "a photo of <Food-11 label>,",
greedy and with 3 beams:
  * transformers' BlipForConditionalGeneration.generate, max_length 20 (the checkpoint's
    generation default, counting [DEC] and the prompt), and, for the greedy captions,
  * a greedy loop over the exported wrapper modules run exactly as the gateway runs the ONNX
    decoder (fixed L, right padding, last-position logits, steps of different sequences
    batched together, stop on [SEP] = 102 or the token budget)
must produce identical token ids, and so must every case (greedy and beams) decoded by
cached_step.generate_cached over the exported caption_decoder_cached ONNX on ONNX Runtime, driven
as Triton's sequence batcher drives it (the smallest greedy top-1 logit margin it saw is printed).
Then the TypeScript checks run: check-parity.ts requires max
|ONNX - PyTorch| < 1e-4 on ONNX Runtime for Node, and check-gateway-captions.ts requires
transformers' captions, token for token, from a real gateway over the exported ONNX.

Prompt handling (BLIP's generate, and the gateway's CaptionTokenizer.prefix, alike): the prompt is
tokenised with special tokens ([CLS] prompt [SEP]), [CLS] is replaced by the decoder start token
[DEC] = 30522 (bos_token_id) and the trailing [SEP] is dropped; generation stops on [SEP] = 102
(sep_token_id; the config's eos_token_id 2 is [unused1] and never generated).

Exit codes: 0 ok, 1 parity failed, 2 missing dependency/file or unusable checkpoint.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import string
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import export_common as ec  # noqa: E402
import triton_configs  # noqa: E402

TOOL = 'export_blip'
INSTALL = 'bash scripts/setup-python.sh (requirements.txt: transformers, torch, onnx, onnxruntime, pillow, numpy), then run this with .venv/bin/python'
HF_MAX_LENGTH = 20          # generation default of the checkpoint's config (whole decoder sequence)
NUM_BEAMS = (1, 3)          # the parity runs greedy decoding and beam search with 3 beams
# --random-base writes here by default: ~0.9 GB of random weights that must never be committed
# (.cache/ is ignored) nor land in the served model_repository/.
RANDOM_BASE_REPO = ec.PROJECT / '.cache' / 'blip-base-random' / 'model_repository'
PROMPT_TEMPLATE = 'a photo of {label},'
WEIGHTS = ('model.safetensors', 'pytorch_model.bin', 'model.safetensors.index.json', 'pytorch_model.bin.index.json')
RESAMPLE = {0: 'nearest', 2: 'bilinear', 3: 'bicubic'}  # PIL enum -> gateway resample

# --- pure helpers (no third-party imports; unit-tested without transformers) ----------------

def image_parameters(pre: dict, vision_image_size: int) -> dict[str, str]:
    """The gateway's image parameters from a BlipImageProcessor preprocessor_config.json (class
    defaults where a key is absent: 384 square, bicubic, 1/255, CLIP mean/std)."""
    size = pre.get('size', 384)
    if isinstance(size, dict):
        if 'height' in size and 'width' in size and size['height'] == size['width']:
            size = size['height']
        else:
            raise ec.ExportError(f'preprocessor size {size} is not a square resize; the gateway only squashes to S x S')
    size = int(size)
    if size != vision_image_size:
        raise ec.ExportError(f'preprocessor size {size} differs from vision_config.image_size {vision_image_size}')
    if pre.get('do_resize', True) is False:
        raise ec.ExportError('preprocessor has do_resize false; the gateway always resizes')
    resample = RESAMPLE.get(int(pre.get('resample', 3)))
    if resample is None:
        raise ec.ExportError(f'preprocessor resample {pre.get("resample")} has no gateway equivalent (nearest/bilinear/bicubic)')
    rescale = float(pre.get('rescale_factor', 1 / 255)) if pre.get('do_rescale', True) else 1.0
    mean, std = (pre.get('image_mean', ec.CLIP_MEAN), pre.get('image_std', ec.CLIP_STD)) if pre.get('do_normalize', True) else ((0, 0, 0), (1, 1, 1))
    return {
        'image_size': str(size), 'resize_mode': 'squash', 'resample': resample,
        'rescale_factor': ec.RESCALE_1_255 if abs(rescale - 1 / 255) < 1e-12 else repr(rescale),
        'image_mean': ec.fmt_floats(mean), 'image_std': ec.fmt_floats(std),
    }


def config_headers(source: str) -> tuple[str, str]:
    """The comments at the top of the encoder's and the decoder's config.pbtxt."""
    enc_header = (f'BLIP vision encoder, exported by model-tools/export/export_blip.py from: {source}.\n'
                  'pixel_values -> image_embeds (vision_model last_hidden_state, after post_layernorm).')
    dec_header = (f'BLIP text decoder, exported by model-tools/export/export_blip.py from: {source}.\n'
                  'Fixed-length right-padded input_ids/attention_mask and the image embeddings in, logits of the\n'
                  'last attended position out. The gateway builds the start sequence as BLIP\'s generate does: [CLS] prompt [SEP]\n'
                  'from tokenizer.json, [CLS] replaced by [DEC] (bos_token_id), [SEP] dropped; it stops on [SEP]\n'
                  '(eos_token_id here is BLIP\'s sep_token_id 102, not the config\'s unused eos 2).')
    return enc_header, dec_header


def render_configs(source: str, image: dict[str, str], tokens: int, hidden: int, vocab: int, length: int,
                   bos: int, eos: int, pad: int, max_new_tokens: int, variant: str = 'default') -> tuple[str, str]:
    """The caption_encoder and caption_decoder configurations of `variant` ('default' is
    config.pbtxt's, or one of triton_configs.VARIANTS), rendered by triton_configs.py as the demo's."""
    enc_header, dec_header = config_headers(source)
    generation = triton_configs.generation_parameters(length, bos, eos, pad, PROMPT_TEMPLATE, max_new_tokens)
    enc = triton_configs.encoder_config(enc_header, int(image['image_size']), tokens, hidden, image, variant)
    dec = triton_configs.decoder_config(dec_header, length, tokens, hidden, vocab, generation, variant)
    return enc, dec


def food_labels(repo: Path) -> list[str]:
    """The food_caption ensemble's labels: <repo>/food_classifier/labels.txt when the classifier
    is already there, else the 11 Food-11 classes (the order export_classifier.py writes)."""
    path = repo / 'food_classifier' / 'labels.txt'
    if path.is_file():
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return list(ec.FOOD11_LABELS)


def write_configs(repo: Path, source: str, image: dict[str, str], tokens: int, hidden: int, vocab: int, length: int,
                  bos: int, eos: int, pad: int, max_new_tokens: int) -> None:
    """caption_encoder/ and caption_decoder/ config.pbtxt with their configs/<variant>.pbtxt, then
    the food_caption ensemble for this encoder's input size and image_embeds dims."""
    enc_header, dec_header = config_headers(source)
    generation = triton_configs.generation_parameters(length, bos, eos, pad, PROMPT_TEMPLATE, max_new_tokens)
    triton_configs.write_caption_models(repo, enc_header, dec_header, int(image['image_size']), tokens, hidden, vocab, length,
                                        image, generation, food_labels(repo))


def cached_header(source: str) -> str:
    """The comment at the top of caption_decoder_cached's config.pbtxt."""
    return (f'BLIP text decoder with its state kept by the server, exported by model-tools/export/export_blip.py from: {source}.\n'
            'One caption is one sequence (model-tools/cached-decoder.md): the prefix and the image on START, then one\n'
            'token per beam; the top candidates after the processors out. Same tokenizer, ids and prompt rule as caption_decoder.')


def export_cached(repo: Path, model, source: str, tokens: int, hidden: int, length: int, generation: dict[str, str]) -> Path:
    """caption_decoder_cached/: 1/model.onnx (cached_blip_decoder.py, cache capacity = the stateless
    decoder's max_length), tokenizer.json copied from caption_decoder/, config.pbtxt and its
    configs/ variants (triton_configs.write_cached_decoder). Returns the ONNX path."""
    import cached_blip_decoder as cbd
    model_dir = repo / 'caption_decoder_cached'
    path = model_dir / '1' / 'model.onnx'
    step = cbd.CachedBlipStep(model.text_decoder, length).eval()
    cbd.export_cached_decoder(step, path, tokens)
    shutil.copyfile(repo / 'caption_decoder' / 'tokenizer.json', model_dir / 'tokenizer.json')
    layers = model.config.text_config.num_hidden_layers
    triton_configs.write_cached_decoder(repo, cached_header(source), length, tokens, hidden, layers, generation)
    return path


class MarginRecorder:
    """An onnxruntime session that remembers the smallest top-1/top-2 score margin of greedy steps
    (normalize_scores 0: the raw logits' margin, as gateway_greedy measures it)."""

    def __init__(self, session):
        self.session, self.margin = session, float('inf')

    def get_inputs(self):
        return self.session.get_inputs()

    def get_outputs(self):
        return self.session.get_outputs()

    def run(self, names, feed):
        out = self.session.run(names, feed)
        if int(feed['normalize_scores'].reshape(-1)[0]) == 0:
            top = out[names.index('top_scores')]
            self.margin = min(self.margin, float((top[..., 0] - top[..., 1]).min()))
        return out


def cached_parity(path: Path, embeds, cases: list[tuple[int, str, int]], prefixes: list[list[int]], hf_ids: list[list[int]],
                  eos: int, pad: int, max_length: int = HF_MAX_LENGTH):
    """Every case (image row, prompt, num_beams) through cached_step.generate_cached over the
    exported cached decoder, against transformers' ids (hf_ids: prefix + new tokens + eos when it
    ended so). Returns ([(identical, cached new tokens)], smallest greedy top-1 margin)."""
    import onnxruntime as ort
    import cached_step as cs
    session = MarginRecorder(ort.InferenceSession(str(path), providers=['CPUExecutionProvider']))
    results = []
    for (i, _, beams), prefix, hf in zip(cases, prefixes, hf_ids):
        ended = hf[-1] == eos and len(hf) > len(prefix)
        got = cs.generate_cached(session, embeds[i].numpy(), prefix, eos_id=eos, pad_id=pad,
                                 max_new_tokens=max_length - len(prefix), num_beams=beams)
        results.append((got == hf[len(prefix):len(hf) - ended], got))
    return results, session.margin


def gateway_prefix(ids_with_specials: list[int], bos: int) -> list[int]:
    """gateway/src/generation/caption-tokenizer.ts prefix(): [CLS] p.. [SEP] -> [DEC] p.."""
    return [bos] + list(ids_with_specials[1:-1])


def gateway_greedy(step, embeds, image_of: list[int], prefixes: list[list[int]], length: int,
                   budgets: list[int], eos: int, pad: int):
    """Greedy decoding as the gateway drives the ONNX decoder (gateway/src/generation/
    greedy-decode.ts), with every live sequence's step in one batch as Triton's dynamic batcher
    merges requests: ids right-padded to `length`, mask 1 on real tokens, logits of the last one.
    Per sequence: while new tokens < budget and len < length: argmax; stop (not appended) on eos.
    Returns (full sequences incl. prefix and a final eos if generated, finish reasons, smallest
    top-1/top-2 logit margin seen)."""
    import torch
    n = len(prefixes)
    seqs = [list(p) for p in prefixes]
    new = [0] * n
    finish: list[str | None] = [None] * n
    margin = float('inf')
    with torch.no_grad():
        while True:
            live = []
            for i in range(n):
                if finish[i] is None and not (new[i] < budgets[i] and len(seqs[i]) < length):
                    finish[i] = 'length'
                if finish[i] is None:
                    live.append(i)
            if not live:
                break
            ids = torch.full((len(live), length), pad, dtype=torch.long)
            mask = torch.zeros((len(live), length), dtype=torch.long)
            for r, i in enumerate(live):
                ids[r, :len(seqs[i])] = torch.tensor(seqs[i])
                mask[r, :len(seqs[i])] = 1
            logits = step(ids, mask, embeds[torch.tensor([image_of[i] for i in live])])
            top = logits.topk(2, dim=-1)
            margin = min(margin, float((top.values[:, 0] - top.values[:, 1]).min()))
            best = logits.argmax(dim=-1).tolist()
            for r, i in enumerate(live):
                if best[r] == eos:
                    finish[i] = 'eos'
                    seqs[i].append(eos)
                else:
                    seqs[i].append(best[r])
                    new[i] += 1
    return seqs, finish, margin


def tiny_vocab(size: int = 30522) -> list[str]:
    """A BERT-layout WordPiece vocabulary for --random-tiny: [PAD]=0, [unused0..98]=1..99,
    [UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103, then the prompt words, letters, ##letters,
    digits and punctuation, padded with [unusedN] to `size` (the model adds [DEC]/[ENC] as
    30522/30523 as real BLIP does)."""
    words = {w for label in ec.FOOD11_LABELS for w in re.findall(r'[a-z0-9]+|[^\sa-z0-9]', PROMPT_TEMPLATE.format(label=label))}
    words |= set('a an the of on with and in plate bowl table food photo picture close up'.split())
    vocab = ['[PAD]'] + [f'[unused{i}]' for i in range(99)] + ['[UNK]', '[CLS]', '[SEP]', '[MASK]']
    chars = list(string.ascii_lowercase + string.digits)
    for piece in sorted(words) + chars + ['##' + c for c in chars] + list(string.punctuation):
        if piece not in vocab:
            vocab.append(piece)
    vocab += [f'[unused{i}]' for i in range(99, 99 + size - len(vocab))]
    return vocab


def synthetic_photo(seed: int, width: int = 480, height: int = 360):
    """A deterministic picture (a plate with food-coloured blobs on a table) when no --images."""
    import random
    from PIL import Image, ImageDraw, ImageFilter
    rnd = random.Random(seed)
    img = Image.new('RGB', (width, height), (rnd.randint(90, 160), rnd.randint(60, 110), rnd.randint(30, 80)))
    d = ImageDraw.Draw(img)
    d.ellipse((width * 0.15, height * 0.12, width * 0.85, height * 0.9), fill=(235, 235, 228), outline=(200, 200, 195), width=6)
    for _ in range(9):
        x, y, r = rnd.uniform(0.3, 0.7) * width, rnd.uniform(0.3, 0.7) * height, rnd.uniform(12, 40)
        d.ellipse((x - r, y - r * 0.8, x + r, y + r * 0.8), fill=(rnd.randint(120, 250), rnd.randint(40, 200), rnd.randint(0, 90)))
    return img.filter(ImageFilter.GaussianBlur(1.2))


# --- checks before anything heavy -------------------------------------------------------------

def check_files(args) -> None:
    if args.images:
        for p in args.images:
            if not p.is_file():
                raise ec.ExportError(f'image not found: {p}')
    if args.random_tiny or args.random_base:
        served = (ec.PROJECT / 'model_repository').resolve()
        repo = args.repo.resolve()
        if repo == served or served in repo.parents:
            raise ec.ExportError(f'--repo {args.repo}: random weights never go into the served model_repository/; '
                                 'write them elsewhere (--random-base defaults to .cache/blip-base-random/model_repository)')
        return
    ck = args.checkpoint
    if not ck.is_dir():
        raise ec.ExportError(f'checkpoint directory not found: {ck} (a local snapshot of Salesforce/blip-image-captioning-base, '
                             'e.g. huggingface-cli download Salesforce/blip-image-captioning-base --local-dir DIR)')
    missing = [f for f in ('config.json', 'preprocessor_config.json') if not (ck / f).is_file()]
    if not any((ck / w).is_file() for w in WEIGHTS):
        missing.append(' or '.join(WEIGHTS[:2]))
    if not (ck / 'tokenizer.json').is_file() and not (ck / 'vocab.txt').is_file():
        missing.append('tokenizer.json')
    if missing:
        raise ec.ExportError(f'missing file(s) in {ck}: {", ".join(missing)}')


def check_dependencies() -> None:
    missing = ec.missing_modules(['transformers', 'tokenizers'])
    if missing:
        ec.fail(TOOL, f'transformers is required ({", ".join(missing)} not importable): {INSTALL}')
    missing = ec.missing_modules(['torch', 'onnx', 'onnxruntime', 'numpy', 'PIL'])
    if missing:
        ec.fail(TOOL, f'{", ".join("pillow" if m == "PIL" else m for m in missing)} required: {INSTALL}')


# --- model, wrappers, tokenizer ---------------------------------------------------------------

def wrappers():
    import torch
    from torch import nn

    class ImageEncoder(nn.Module):
        """pixel_values -> vision_model last_hidden_state (BlipVisionModel applies post_layernorm)."""

        def __init__(self, vision_model: nn.Module):
            super().__init__()
            self.vision_model = vision_model

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            return self.vision_model(pixel_values=pixel_values, return_dict=False)[0]

    class LastPositionDecoder(nn.Module):
        """text_decoder over the whole fixed-length prefix, cross-attending to image_embeds with an
        all-ones image mask; the LM head runs on the last attended position only (the head is
        per-position, so this equals gathering text_decoder's logits there, and it keeps the
        768x30524 projection out of the other L-1 positions)."""

        def __init__(self, text_decoder: nn.Module):
            super().__init__()
            self.bert = text_decoder.bert
            self.cls = text_decoder.cls

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, image_embeds: torch.Tensor) -> torch.Tensor:
            image_mask = torch.ones(image_embeds.shape[:2], dtype=torch.long, device=image_embeds.device)
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, encoder_hidden_states=image_embeds,
                encoder_attention_mask=image_mask, use_cache=False, return_dict=False, is_decoder=True,
            )[0]
            last = (attention_mask.sum(dim=1) - 1).clamp(min=0)
            picked = hidden.gather(1, last.view(-1, 1, 1).expand(-1, 1, hidden.shape[-1])).squeeze(1)
            return self.cls(picked)

    return ImageEncoder, LastPositionDecoder


def tiny_model(seed: int):
    """A randomly initialised BlipForConditionalGeneration with BLIP-base's token ids, image size,
    patch size and vocabulary (577 image tokens, 30524 logits) but hidden size 32 and 2 layers."""
    import torch
    from transformers import BlipConfig, BlipForConditionalGeneration
    small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, initializer_range=0.2)
    text = dict(small, vocab_size=30524, encoder_hidden_size=32, max_position_embeddings=512,
                bos_token_id=30522, eos_token_id=2, sep_token_id=102, pad_token_id=0)
    vision = dict(small, image_size=384, patch_size=16)
    config = BlipConfig(text_config=text, vision_config=vision, projection_dim=32)
    # Wider than BLIP's 0.02 so random logits have clear winners (greedy parity must not hinge
    # on near-ties); BlipConfig may reset initializer_range in __init__, so set it afterwards.
    # Only for 2 layers: through 12 layers this width makes activations (and so the ONNX vs
    # PyTorch differences) blow up, which is why --random-base keeps BLIP's own 0.02.
    config.initializer_range = 0.2
    torch.manual_seed(seed)
    model = BlipForConditionalGeneration(config).eval()
    # Random weights almost never pick [SEP]; raise its output bias so that greedy decoding ends
    # on it after a few tokens for some captions, as real captions do, and the eos path is tested.
    _, Decoder = wrappers()
    step = Decoder(model.text_decoder).eval()
    with torch.no_grad():
        embeds = model.vision_model(pixel_values=torch.randn(2, 3, 384, 384), return_dict=False)[0]
        seqs, _, _ = gateway_greedy(step, embeds, [0, 1], [[30522], [30522]], 40, [8, 8], eos=-1, pad=0)
        ids = torch.tensor([s[:k] + [0] * (40 - k) for s in seqs for k in range(1, 9)])
        mask = torch.tensor([[1] * k + [0] * (40 - k) for _ in seqs for k in range(1, 9)])
        logits = step(ids, mask, embeds[torch.tensor([0] * 8 + [1] * 8)])
        gaps = (logits.max(dim=-1).values - logits[:, 102]).sort().values
        model.text_decoder.cls.predictions.bias.data[102] += float(gaps[len(gaps) // 3]) + 0.05
    return model


def base_config():
    """BLIP-base's architecture: transformers' BlipConfig() defaults, which are
    Salesforce/blip-image-captioning-base's (ViT-B/16 at 384 px, 12 layers of 768; a 12-layer BERT
    text decoder of 768 with cross-attention, vocabulary 30524 with [DEC] = 30522, [SEP] = 102,
    [PAD] = 0), with BLIP's initializer_range 0.02 for both towers.

    Only the vision tower's initializer_range is changed, from BlipVisionConfig's 1e-10 (copied from
    the checkpoint's config.json, where it never acts because the weights are loaded) to the
    model's 0.02: at 1e-10 every random vision weight is ~1e-10, image_embeds come out ~1e-6 for
    any picture, so all images get the same caption and the encoder's ONNX parity check compares
    near-zeros. The architecture, and so the cost of every call, is unchanged."""
    from transformers import BlipConfig
    config = BlipConfig()
    config.vision_config.initializer_range = config.initializer_range
    return config


def base_model(seed: int):
    """BlipForConditionalGeneration(BlipConfig()) with transformers' own random initialisation
    (224 M parameters), for real-scale benchmarks without the weights."""
    import torch
    from transformers import BlipForConditionalGeneration
    torch.manual_seed(seed)
    return BlipForConditionalGeneration(base_config()).eval()


def load_model(args):
    from transformers import BlipForConditionalGeneration
    if args.random_tiny:
        return tiny_model(args.seed)
    if args.random_base:
        return base_model(args.seed)
    try:
        model = BlipForConditionalGeneration.from_pretrained(str(args.checkpoint), local_files_only=True, attn_implementation='eager')
    except (TypeError, ValueError):  # versions without attn_implementation for BLIP
        model = BlipForConditionalGeneration.from_pretrained(str(args.checkpoint), local_files_only=True)
    return model.eval()


def write_tokenizer(args, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if args.random_tiny or args.random_base:
        from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
        vocab = tiny_vocab()
        tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token='[UNK]', max_input_chars_per_word=100))
        tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.post_processor = processors.TemplateProcessing(
            single='[CLS] $A [SEP]', pair='[CLS] $A [SEP] $B:1 [SEP]:1', special_tokens=[('[CLS]', 101), ('[SEP]', 102)])
        tok.decoder = decoders.WordPiece(prefix='##')
        tok.add_special_tokens(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'])
        tok.save(str(dest))
    elif (args.checkpoint / 'tokenizer.json').is_file():
        shutil.copyfile(args.checkpoint / 'tokenizer.json', dest)
    else:  # vocab.txt only: let transformers build the fast tokenizer and save its JSON
        from transformers import BertTokenizerFast
        BertTokenizerFast.from_pretrained(str(args.checkpoint), local_files_only=True).backend_tokenizer.save(str(dest))


# --- main -------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument('--checkpoint', type=Path, help='local snapshot of Salesforce/blip-image-captioning-base')
    src.add_argument('--random-tiny', action='store_true', help='random small BLIP (same interface and token ids), to test the export path')
    src.add_argument('--random-base', action='store_true',
                     help="BLIP-base's real architecture (BlipConfig() defaults) with random weights, for real-scale benchmarks "
                          '(~0.9 GB; default --repo .cache/blip-base-random/model_repository)')
    ap.add_argument('--repo', type=Path, help='model repository to write caption_encoder/ and caption_decoder/ into '
                                              '(required, except with --random-base)')
    ap.add_argument('--max-length', type=int, default=40, help='L, the decoder input length (default 40)')
    ap.add_argument('--max-new-tokens', type=int, default=20, help='the gateway\'s token budget parameter (default 20)')
    ap.add_argument('--images', type=Path, nargs='+', help='test images for the caption parity (default: two synthetic pictures)')
    ap.add_argument('--parity', type=Path, help='directory for the parity files (default: <repo>-parity)')
    ap.add_argument('--no-check', action='store_true', help='skip the TypeScript ONNX check (the caption parity still runs)')
    ap.add_argument('--seed', type=int, default=0)
    args = ap.parse_args(argv)
    if args.repo is None:
        if not args.random_base:
            ap.error('--repo is required (except with --random-base)')
        args.repo = RANDOM_BASE_REPO
    try:
        check_files(args)
        check_dependencies()
        return export(args)
    except ec.ExportError as e:
        ec.fail(TOOL, str(e))
    return 0


def export(args) -> int:
    import numpy as np
    import onnx
    import torch
    from PIL import Image
    from tokenizers import Tokenizer
    sys.path.insert(0, str(ec.PYTHON_TOOLS))
    from common import write_parity

    model = load_model(args)
    vc, tc = model.config.vision_config, model.config.text_config
    tokens, hidden, vocab = (vc.image_size // vc.patch_size) ** 2 + 1, vc.hidden_size, tc.vocab_size
    bos, eos, pad = tc.bos_token_id, tc.sep_token_id, tc.pad_token_id
    L = args.max_length
    if not 2 <= L <= tc.max_position_embeddings:
        raise ec.ExportError(f'--max-length {L} must be in 2..{tc.max_position_embeddings} (text max_position_embeddings)')
    if L < HF_MAX_LENGTH:
        print(f'{TOOL}: warning: L={L} is shorter than HF max_length {HF_MAX_LENGTH}; long captions will differ', file=sys.stderr)
    source = ('a random tiny BLIP (--random-tiny, for testing)' if args.random_tiny else
              "BLIP-base's architecture (BlipConfig() defaults) with random weights (--random-base, for benchmarks)" if args.random_base else
              args.checkpoint.name)
    random = args.random_tiny or args.random_base
    pre = {} if random else json.loads((args.checkpoint / 'preprocessor_config.json').read_text())
    image = image_parameters(pre, vc.image_size)
    print(f'{TOOL}: {source}: {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters, '
          f'{tokens} image tokens x {hidden}, vocab {vocab}, bos {bos} eos(sep) {eos} pad {pad}, L {L}', flush=True)
    parity = args.parity or Path(str(args.repo) + '-parity')

    # Tokenizer and the gateway's prefix rule.
    enc_dir, dec_dir = args.repo / 'caption_encoder', args.repo / 'caption_decoder'
    write_tokenizer(args, dec_dir / 'tokenizer.json')
    tok = Tokenizer.from_file(str(dec_dir / 'tokenizer.json'))
    probe = tok.encode(PROMPT_TEMPLATE.format(label='bread')).ids
    cls_id = tok.token_to_id('[CLS]')
    if probe[0] != cls_id or probe[-1] != eos:
        raise ec.ExportError(f'tokenizer.json does not add [CLS] ... [SEP] ({probe}); the gateway (as BLIP) replaces the first '
                             'and drops the last token of the encoded prompt')

    # Images and pixel_values (transformers' own processor, so the comparison is about the models).
    originals = [Image.open(p).convert('RGB') for p in args.images] if args.images else [synthetic_photo(args.seed + i) for i in range(2)]
    names = [p.stem for p in args.images] if args.images else [f'synthetic-{i}' for i in range(len(originals))]
    if random:
        from transformers import BlipImageProcessorPil
        processor, image_processor = None, BlipImageProcessorPil()
    else:
        from transformers import BlipProcessor
        processor = BlipProcessor.from_pretrained(str(args.checkpoint), local_files_only=True)
        image_processor = processor.image_processor
    size = int(image['image_size'])
    mean = np.array([float(x) for x in image['image_mean'].split(',')], dtype=np.float32)
    std = np.array([float(x) for x in image['image_std'].split(',')], dtype=np.float32)
    resample = {'bicubic': Image.BICUBIC, 'bilinear': Image.BILINEAR, 'nearest': Image.NEAREST}[image['resample']]
    rescale = float(image['rescale_factor'])

    def processed(ims):
        return torch.cat([image_processor(images=im, return_tensors='pt')['pixel_values'] for im in ims]).float()

    def recipe(ims):
        return np.stack([((np.asarray(im.resize((size, size), resample), dtype=np.float32) * rescale - mean) / std).transpose(2, 0, 1) for im in ims])

    preprocess_diff = float(np.abs(recipe(originals) - processed(originals).numpy()).max())
    print(f'{TOOL}: pixel_values: transformers processor vs PIL squash/{image["resample"]}/rescale/normalise (the recipe the gateway follows with sharp): '
          f'max |diff| {preprocess_diff:.3g} (informational; resize implementations differ slightly)')
    # The captions are compared on the pictures already resized to S x S (by PIL, as the processor
    # resizes) and saved losslessly, so that the gateway, which resizes with sharp, gets the same
    # pixels over HTTP: a resize to the same size leaves them as they are on both sides.
    images = [im.resize((size, size), resample) for im in originals]
    image_files = []
    for name, im in zip(names, images):
        image_files.append(f'images/{name}.png')
        (parity / 'images').mkdir(parents=True, exist_ok=True)
        im.save(parity / image_files[-1])
    pixel_values = processed(images)
    print(f'{TOOL}: on the {size}x{size} pictures: processor vs recipe max |diff| {float(np.abs(recipe(images) - pixel_values.numpy()).max()):.3g}')

    ImageEncoder, LastPositionDecoder = wrappers()
    encoder, decoder = ImageEncoder(model.vision_model).eval(), LastPositionDecoder(model.text_decoder).eval()
    with torch.no_grad():
        embeds = encoder(pixel_values)

    # Caption parity: transformers generate() (greedy and beam search) vs the gateway's greedy
    # loop over the wrappers here; check-gateway-captions.ts compares all of them with the gateway.
    cases = [(i, prompt, beams) for i in range(len(images))
             for prompt in ('', PROMPT_TEMPLATE.format(label=ec.FOOD11_LABELS[i % len(ec.FOOD11_LABELS)])) for beams in NUM_BEAMS]
    hf_ids = []
    with torch.no_grad():
        for i, prompt, beams in cases:
            # Hugging Face's defaults, spelt out so a checkpoint's generation_config cannot change
            # what is compared (the gateway has no sampling, length penalty 1, early_stopping False).
            kwargs = dict(max_length=HF_MAX_LENGTH, num_beams=beams, do_sample=False, min_length=0, repetition_penalty=1.0,
                          length_penalty=1.0, early_stopping=False, no_repeat_ngram_size=0, num_return_sequences=1)
            if prompt:
                if processor is not None:
                    t = processor(images=images[i], text=prompt, return_tensors='pt')
                    kwargs.update(input_ids=t['input_ids'], attention_mask=t['attention_mask'])
                else:
                    ids = torch.tensor([tok.encode(prompt).ids])
                    kwargs.update(input_ids=ids, attention_mask=torch.ones_like(ids))
            hf_ids.append(model.generate(pixel_values=pixel_values[i:i + 1], **kwargs)[0].tolist())
    prefixes = [gateway_prefix(tok.encode(prompt).ids, bos) for _, prompt, _ in cases]
    greedy = [k for k, (_, _, beams) in enumerate(cases) if beams == 1]
    budgets = [max(0, HF_MAX_LENGTH - len(prefixes[k])) for k in greedy]
    seqs, finish, margin = gateway_greedy(decoder, embeds, [cases[k][0] for k in greedy], [prefixes[k] for k in greedy], L, budgets, eos, pad)
    loop = {k: (s, why) for k, s, why in zip(greedy, seqs, finish)}
    if processor is not None:
        hf_tokenizer = processor.tokenizer
    else:
        from transformers import PreTrainedTokenizerFast
        hf_tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(dec_dir / 'tokenizer.json'))
    report, ok = [], True
    for k, ((i, prompt, beams), prefix, hf) in enumerate(zip(cases, prefixes, hf_ids)):
        ended = hf[-1] == eos and len(hf) > len(prefix)
        generated = hf[len(prefix):len(hf) - ended]
        text = hf_tokenizer.decode(generated, skip_special_tokens=True).strip()
        # What the gateway answers: the prompt and the caption, [DEC] and [SEP] left out.
        caption = hf_tokenizer.decode(hf[1:len(hf) - ended], skip_special_tokens=True).strip()
        entry = {'image': names[i], 'image_file': image_files[i], 'pixel_row': i, 'prompt': prompt, 'num_beams': beams,
                 'transformers_ids': hf, 'transformers_text': text, 'transformers_caption': caption,
                 'transformers_tokens': len(generated), 'transformers_finish': 'eos' if ended else 'length'}
        label = f'{names[i]} prompt {prompt!r} beams {beams}'
        if k in loop:
            ours_ids, why = loop[k]
            same = hf == ours_ids
            ok &= same
            entry.update(gateway_loop_ids=ours_ids, finish=why, identical=same)
            print(f'{TOOL}: {"ok  " if same else "FAIL"} {label}: {text!r} ({why}, {len(ours_ids)} ids)')
            if not same:
                print(f'        transformers {hf}\n        gateway loop {ours_ids}')
        else:
            print(f'{TOOL}: ---- {label}: {text!r} ({entry["transformers_finish"]}, {len(hf)} ids; compared by check-gateway-captions.ts)')
        report.append(entry)
    compared = [r for r in report if 'identical' in r]
    print(f'{TOOL}: caption parity {"passed" if ok else "FAILED"}: {sum(r["identical"] for r in compared)}/{len(compared)} greedy captions identical; '
          f'smallest top-1 logit margin {margin:.3g}', flush=True)

    # Decode batches of sequences of different lengths, right-padded. Two rows trace the export
    # (the first, and a [DEC]-only row, so the traced batch always has padding); the ONNX check
    # runs all of them (another batch size, other masks), so it also shows that nothing about the
    # traced inputs was frozen into the graph.
    rows = [(cases[k][0], seqs[r][:max(1, len(seqs[r]) - r % 3)]) for r, k in enumerate(greedy)][:4] + [(0, seqs[0][:1])]
    ids = torch.full((len(rows), L), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), L), dtype=torch.long)
    for r, (_, s) in enumerate(rows):
        ids[r, :len(s)], mask[r, :len(s)] = torch.tensor(s), 1
    row_embeds = embeds[torch.tensor([i for i, _ in rows])]
    with torch.no_grad():
        logits = decoder(ids, mask, row_embeds)
        full = model.text_decoder(input_ids=ids, attention_mask=mask, encoder_hidden_states=row_embeds,
                                  encoder_attention_mask=torch.ones(row_embeds.shape[:2], dtype=torch.long),
                                  use_cache=False, return_dict=True).logits
        gathered = full[torch.arange(len(rows)), mask.sum(1) - 1]
    head_diff = float((gathered - logits).abs().max())
    print(f'{TOOL}: wrapper vs text_decoder(...).logits gathered at the last position: max |diff| {head_diff:.3g}')
    ok &= head_diff < 1e-4

    # Export.
    enc_path, dec_path = enc_dir / '1' / 'model.onnx', dec_dir / '1' / 'model.onnx'
    trace_pixels = pixel_values[:2] if len(images) > 1 else pixel_values.repeat(2, 1, 1, 1)
    check_pixels = torch.cat([pixel_values, pixel_values[:1].flip(-1)])  # another batch size than traced
    ec.onnx_export(encoder, (trace_pixels,), enc_path, ['pixel_values'], ['image_embeds'])
    trace_rows = torch.tensor([0, len(rows) - 1])
    ec.onnx_export(decoder, (ids[trace_rows], mask[trace_rows], row_embeds[trace_rows]), dec_path,
                   ['input_ids', 'attention_mask', 'image_embeds'], ['logits'])
    want = {
        enc_path: {'inputs': {'pixel_values': ['batch', 3, size, size]}, 'outputs': {'image_embeds': ['batch', tokens, hidden]}},
        dec_path: {'inputs': {'input_ids': ['batch', L], 'attention_mask': ['batch', L], 'image_embeds': ['batch', tokens, hidden]},
                   'outputs': {'logits': ['batch', vocab]}},
    }
    for p, w in want.items():
        ec.declare_shapes(p, w)
        onnx.checker.check_model(str(p))
        io = ec.onnx_io(p)
        if io != w:
            raise ec.ExportError(f'{p} has I/O {io}, expected {w}')
    write_configs(args.repo, source, image, tokens, hidden, vocab, L, bos, eos, pad, args.max_new_tokens)

    # The cached decoder beside the stateless one; its captions through generate_cached (the
    # gateway's cached path, run here in Python) must be transformers' own, beams included.
    generation = triton_configs.generation_parameters(L, bos, eos, pad, PROMPT_TEMPLATE, args.max_new_tokens)
    cached_path = export_cached(args.repo, model, source, tokens, hidden, L, generation)
    cached, cached_margin = cached_parity(cached_path, embeds, cases, prefixes, hf_ids, eos, pad)
    for ((i, prompt, beams), (same, got), entry) in zip(cases, cached, report):
        entry.update(cached_ids=got, cached_identical=same)
        if not same:
            print(f'{TOOL}: FAIL cached {names[i]} prompt {prompt!r} beams {beams}:\n        transformers {entry["transformers_ids"]}\n'
                  f'        cached (new tokens) {got}')
    cached_ok = all(same for same, _ in cached)
    ok &= cached_ok
    print(f'{TOOL}: cached decoder parity {"passed" if cached_ok else "FAILED"}: {sum(same for same, _ in cached)}/{len(cached)} captions '
          f'(greedy and {max(NUM_BEAMS)} beams) identical to transformers; smallest greedy top-1 logit margin {cached_margin:.3g}', flush=True)

    with torch.no_grad():
        write_parity(parity / 'caption_encoder.json', 'caption_encoder', {'pixel_values': check_pixels}, {'image_embeds': encoder(check_pixels)})
    write_parity(parity / 'caption_decoder.json', 'caption_decoder', {'input_ids': ids, 'attention_mask': mask, 'image_embeds': row_embeds}, {'logits': logits})
    summary = {'source': source, 'max_length': L, 'hf_max_length': HF_MAX_LENGTH, 'preprocess_max_abs_diff': preprocess_diff,
               'head_max_abs_diff': head_diff, 'smallest_margin': margin, 'cached_smallest_margin': cached_margin, 'captions': report}
    ec.write_text(parity / 'caption_generation.json', json.dumps(summary, indent=1) + '\n')
    print(f'{TOOL}: wrote {enc_path} ({enc_path.stat().st_size / 1e6:.1f} MB), {dec_path} ({dec_path.stat().st_size / 1e6:.1f} MB), '
          f'{cached_path} ({cached_path.stat().st_size / 1e6:.1f} MB), configs (with configs/ variants), food_caption, '
          f'tokenizer.json, {parity}/caption_*.json', flush=True)

    files = ['caption_encoder.json', 'caption_decoder.json']
    if args.no_check:
        print(f'{TOOL}: ONNX checks skipped; run: {ec.ts_check_command(args.repo, parity, files)}\n'
              f'  and: npx tsx model-tools/export/check-gateway-captions.ts --repo {args.repo} --parity {parity}')
    else:
        rc, _, out = ec.run_ts_parity(args.repo, parity, files)
        print(out.rstrip())
        if rc == 127:
            print(f'{TOOL}: warning: npx not found; run: {ec.ts_check_command(args.repo, parity, files)}', file=sys.stderr)
        else:
            ok &= rc == 0
            rc, out = ec.run_ts([str(ec.HERE / 'check-gateway-captions.ts'), '--repo', str(args.repo.resolve()), '--parity', str(parity.resolve())])
            print(out.rstrip())
            ok &= rc == 0
    return 0 if ok else ec.EXIT_PARITY


if __name__ == '__main__':
    sys.exit(main())
