"""Trains the demo captioner on generated scenes and exports it to the model repository.

  python3 train_captioner.py --data DATA --repo model_repository --parity model-tools/parity

Writes caption_encoder/1/model.onnx, caption_decoder/1/model.onnx, caption_decoder/tokenizer.json,
both config.pbtxt files with every preprocessing and generation parameter the gateway needs, and
parity fixtures (a held-out batch with PyTorch's outputs) for the ONNX check.
"""
from __future__ import annotations

import math
from pathlib import Path

import onnx
import torch
from torch import nn

from cached_demo_decoder import export_cached_decoder
from captioner import STEM_STRIDE, Captioner, CaptionerConfig, LastPositionDecoder
from common import Timer, all_sum, data_parallel, image_parameters, onnx_export, setup, shard, training_parser, triton_configs, write_parity, write_training_summary
from data import FOOD_CLASSES, MEAN, STD, load_split, normalise
from tokenizer import DEC, PAD, SEP, WordPiece

PROMPT_TEMPLATE = 'a photo of {label},'
PROMPT_PROBABILITY = 0.3


def prompt_for(label: str) -> str:
    return PROMPT_TEMPLATE.format(label=label)


def sequence(tok: WordPiece, caption: str, prompt: str | None, length: int) -> tuple[list[int], list[int]]:
    """[DEC] prompt caption [SEP], right-padded to `length`; the loss mask covers what the model
    must generate: the caption and [SEP], never the prompt."""
    prompt_ids = tok.encode(prompt) if prompt else []
    caption_ids = tok.encode(caption) + [SEP]
    ids = [DEC] + prompt_ids + caption_ids
    if len(ids) > length:
        raise ValueError(f'sequence of {len(ids)} tokens exceeds L={length}: {prompt!r} {caption!r}')
    targets = [0] * (1 + len(prompt_ids)) + [1] * len(caption_ids)
    return ids + [PAD] * (length - len(ids)), targets + [0] * (length - len(ids))


def build_batches(tok: WordPiece, records: list[dict], length: int, generator: torch.Generator, mirror_probability: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One epoch's token sequences and loss masks, and which scenes are shown mirrored.

    Mirroring is the one augmentation that changes the caption: the grammar names items left to
    right, so a mirrored scene takes `mirrored_caption` (the dataset writer composes it with the
    same TypeScript grammar). Trained on 16,000 scenes without it, the captioner named every item of
    99% of its training scenes but of 83% of held-out three-item scenes: it memorised. The
    committed one sees 40,000 scenes, half mirrored (train-models.sh). See the model card."""
    ids, loss_mask = [], []
    prompted = torch.rand(len(records), generator=generator) < PROMPT_PROBABILITY
    mirrored = torch.rand(len(records), generator=generator) < mirror_probability
    for r, p, m in zip(records, prompted.tolist(), mirrored.tolist()):
        prompt = prompt_for(r['label']) if p else None
        s, mask = sequence(tok, r['mirrored_caption'] if m else r['caption'], prompt, length)
        ids.append(s)
        loss_mask.append(mask)
    return torch.tensor(ids), torch.tensor(loss_mask, dtype=torch.bool), mirrored


@torch.no_grad()
def greedy(model: Captioner, pixel_values: torch.Tensor, prefix: list[int], length: int) -> list[list[int]]:
    step = LastPositionDecoder(model.decoder)
    embeds = model.encoder(pixel_values)
    batch = pixel_values.shape[0]
    seqs = [list(prefix) for _ in range(batch)]
    done = [False] * batch
    while not all(done) and max(len(s) for s in seqs) < length:
        ids = torch.tensor([s + [PAD] * (length - len(s)) for s in seqs])
        mask = torch.tensor([[1] * len(s) + [0] * (length - len(s)) for s in seqs])
        nxt = step(ids, mask, embeds).argmax(dim=-1).tolist()
        for i, t in enumerate(nxt):
            if not done[i]:
                seqs[i].append(t)
                done[i] = t == SEP or len(seqs[i]) >= length
    return [s[len(prefix):] for s in seqs]


def evaluate(model: Captioner, tok: WordPiece, pixels: torch.Tensor, records: list[dict], length: int, rank: int = 0, world: int = 1) -> float:
    """Exact-match share of greedy captions; each process takes every world-th scene."""
    model.eval()
    pixels, mine = pixels[rank::world], records[rank::world]
    hits = 0
    for start in range(0, len(mine), 256):
        out = greedy(model, pixels[start:start + 256], [DEC], length)
        for ids, r in zip(out, mine[start:start + 256]):
            hits += tok.decode([i for i in ids if i != SEP]) == r['caption']
    model.train()
    return all_sum(hits, world) / len(records)


def export(model: Captioner, tok: WordPiece, c: CaptionerConfig, val_pixels: torch.Tensor, val_records: list[dict], repo: Path, parity: Path) -> None:
    model.eval()
    enc_path = repo / 'caption_encoder' / '1' / 'model.onnx'
    dec_path = repo / 'caption_decoder' / '1' / 'model.onnx'
    enc_path.parent.mkdir(parents=True, exist_ok=True)
    dec_path.parent.mkdir(parents=True, exist_ok=True)
    pixels = val_pixels[:4]
    embeds = model.encoder(pixels)
    onnx_export(model.encoder, (pixels,), enc_path, ['pixel_values'], ['image_embeds'])
    gen = torch.Generator().manual_seed(1)
    ids, _, _ = build_batches(tok, val_records[:4], c.max_length, gen)
    mask = (ids != PAD).long()
    step = LastPositionDecoder(model.decoder).eval()
    onnx_export(step, (ids, mask, embeds), dec_path, ['input_ids', 'attention_mask', 'image_embeds'], ['logits'])
    for p in (enc_path, dec_path):
        onnx.checker.check_model(onnx.load(str(p)))
    with torch.no_grad():
        write_parity(parity / 'caption_encoder.json', 'caption_encoder', {'pixel_values': pixels}, {'image_embeds': model.encoder(pixels)})
        write_parity(parity / 'caption_decoder.json', 'caption_decoder', {'input_ids': ids, 'attention_mask': mask, 'image_embeds': embeds}, {'logits': step(ids, mask, embeds)})
    tok.write_tokenizer_json(repo / 'caption_decoder' / 'tokenizer.json')
    tokens = (c.image_size // STEM_STRIDE) ** 2 + 1
    size = c.image_size
    enc_header = ('Demo BLIP-shaped vision encoder, trained on generated cartoon food scenes (see README.md).\n'
                  'Written by model-tools/python/train_captioner.py; export_blip.py writes the same interface.')
    dec_header = ('Demo BLIP-shaped text decoder: fixed-length right-padded input_ids/attention_mask and the\n'
                  'image embeddings in, logits of the last attended position out, so decode steps of different\n'
                  'requests have equal shapes and batch together. The tokenizer is tokenizer.json beside this file.')
    generation = triton_configs.generation_parameters(c.max_length, DEC, SEP, PAD, PROMPT_TEMPLATE, 20)
    # Triton's onnxruntime backend reads this (as does the embedded server). A decoder this small
    # runs a step faster on one CPU thread than on two (0.4-0.7 vs 0.8 ms at batch 1), and at
    # batch 16 in 5 ms of CPU instead of 7-9: waking a second thread for each tiny operator costs
    # more than it saves. It does not apply on a GPU; real BLIP's decoder (export_blip) leaves it unset.
    generation['intra_op_thread_count'] = '1'
    triton_configs.write_caption_models(repo, enc_header, dec_header, size, tokens, c.hidden, len(tok.vocab), c.max_length,
                                        image_parameters(size, MEAN, STD), generation, FOOD_CLASSES)
    # The same weights as the cached decoder (model-tools/cached-decoder.md), which the gateway uses
    # when CAPTION_DECODER_MODEL names it.
    export_cached_decoder(model.decoder, repo, tokens, generation)

def main() -> None:
    ap = training_parser(__doc__, lr=1e-3, save='../../.cache/captioner.pt')
    ap.add_argument('--init-stem', type=Path, help="the trained food_classifier's model.onnx, whose convolutions start the encoder")
    ap.add_argument('--frozen-stem-blocks', type=int, default=0, help='with --init-stem, how many of the first conv blocks keep the classifier weights')
    ap.add_argument('--mirror-probability', type=float, default=0.0, help='share of scenes shown mirrored, with their mirrored caption')
    args = ap.parse_args()
    data_parallel(train, args.processes, args)


def train(rank: int, world: int, args) -> None:
    setup(args.seed)
    timer = Timer()
    log = print if rank == 0 else (lambda *_, **__: None)

    train_u8, train_records = load_split(args.data, 'train')
    val_u8, val_records = load_split(args.data, 'val')
    train_pixels, val_pixels = normalise(train_u8), normalise(val_u8)
    texts = [r['caption'] for r in train_records] + [prompt_for(c) for c in FOOD_CLASSES]
    tok = WordPiece.build(texts)
    c = CaptionerConfig(image_size=train_u8.shape[1], vocab_size=len(tok.vocab))
    log(f'[{timer}] {len(train_records)} train / {len(val_records)} val scenes, vocab {len(tok.vocab)}, image {c.image_size}px, {world} processes', flush=True)

    model = Captioner(c)
    if args.init_stem:
        model.encoder.stem.load_from_onnx(str(args.init_stem))
        # The first, high-resolution blocks hold generic edge and colour filters and cost most of
        # the stem's backward pass; keeping them as the classifier trained them saves about a
        # quarter of each step. The later blocks still adapt to naming every item.
        frozen = [m for m in model.encoder.stem.blocks if isinstance(m, nn.Conv2d)][: args.frozen_stem_blocks]
        for conv in frozen:
            conv.requires_grad_(False)
        log(f'[{timer}] encoder stem initialised from {args.init_stem}, first {len(frozen)} blocks frozen', flush=True)
    params = sum(p.numel() for p in model.parameters())
    log(f'[{timer}] captioner: {params / 1e6:.2f} M parameters', flush=True)
    forward = model
    if world > 1:
        # The causal mask is a constant bool buffer, which gloo cannot broadcast; every process builds its own.
        nn.parallel.DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(model, ['decoder.causal'])
        forward = nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.01)
    steps_per_epoch = math.ceil(len(train_records) / args.batch)
    total = steps_per_epoch * args.epochs
    warmup = max(1, min(300, total // 10))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / total))))
    loss_fn = nn.CrossEntropyLoss(reduction='none')
    # Seeded alike in every process: all draw the same epochs and batches, each trains on its shard.
    gen = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        ids, loss_mask, mirrored = build_batches(tok, train_records, c.max_length, gen, args.mirror_probability)
        order = torch.randperm(len(train_records), generator=gen)
        running = 0.0
        for start in range(0, len(order), args.batch):
            batch = order[start:start + args.batch]
            # The loss is the mean over the whole batch's caption tokens, as in one process:
            # DDP averages the processes' gradients, so each scales its sum by world / all tokens.
            batch_tokens = int(loss_mask[batch][:, 1:].sum())
            idx = shard(batch, rank, world)
            x, seq, m = train_pixels[idx], ids[idx], loss_mask[idx]
            x = torch.where(mirrored[idx].view(-1, 1, 1, 1), x.flip(-1), x)
            # Trim the padding every sequence here shares: most captions are far shorter than L,
            # and the decoder's cost grows with the length it runs over.
            longest = int((seq != PAD).sum(dim=1).max())
            seq, m = seq[:, :longest], m[:, :longest]
            inp, tgt, tmask = seq[:, :-1], seq[:, 1:], m[:, 1:]
            logits = forward(x, inp, (inp != PAD).long())
            token_loss = (loss_fn(logits.reshape(-1, c.vocab_size), tgt.reshape(-1)) * tmask.reshape(-1)).sum()
            loss = token_loss * world / batch_tokens
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            running += token_loss.item()
        loss_per_token = all_sum(running, world) / int(loss_mask[:, 1:].sum())
        acc = evaluate(model, tok, val_pixels[:300], val_records[:300], c.max_length, rank, world)
        log(f'[{timer}] epoch {epoch + 1}/{args.epochs} loss {loss_per_token:.4f} val exact match (300) {acc:.3f}', flush=True)

    if rank != 0:
        return
    args.save.parent.mkdir(parents=True, exist_ok=True)
    torch.save({'config': c.__dict__, 'vocab': tok.vocab, 'state_dict': model.state_dict()}, args.save)
    export(model, tok, c, val_pixels, val_records, args.repo, args.parity)
    write_training_summary(args.parity / 'captioner-training.json', params, args.epochs, world, timer)
    log(f'[{timer}] exported to {args.repo}', flush=True)


if __name__ == '__main__':
    main()
