"""Trains the demo food classifier on generated scenes (label = the largest item's class) and
exports it to the model repository.

  python3 train_classifier.py --data DATA --repo model_repository --parity model-tools/parity

Two outputs, as export_classifier.py gives a real Food-11 checkpoint: `probabilities` (softmax
over the 11 Food-11 classes, labels in labels.txt) and `embedding` (the penultimate features).
The input is the caption encoder's own `pixel_values`, so the food_caption ensemble feeds one
preprocessed tensor to both.
"""
from __future__ import annotations

import math
from pathlib import Path

import onnx
import torch
from torch import nn

from common import Timer, all_sum, data_parallel, image_parameters, onnx_export, setup, shard, training_parser, triton_configs, write_parity, write_training_summary, write_text
from data import FOOD_CLASSES, MEAN, STD, load_split, normalise


def block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class FoodClassifier(nn.Module):
    def __init__(self, classes: int = 11, embedding: int = 128):
        super().__init__()
        self.features = nn.Sequential(block(3, 32, 2), block(32, 48, 1), block(48, 64, 2), block(64, 96, 1), block(96, embedding, 2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(embedding, classes)

    def embed(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.pool(self.features(pixel_values)).flatten(1)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(pixel_values))


class Exported(nn.Module):
    """The served graph: probabilities and embedding."""

    def __init__(self, model: FoodClassifier):
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedding = self.model.embed(pixel_values)
        return self.model.head(embedding).softmax(dim=-1), embedding




@torch.no_grad()
def accuracy(model: nn.Module, pixels: torch.Tensor, labels: torch.Tensor, rank: int = 0, world: int = 1) -> float:
    """Top-1 share; each process takes every world-th image."""
    model.eval()
    mine, their = pixels[rank::world], labels[rank::world]
    hits = sum((model(mine[i:i + 512]).argmax(-1) == their[i:i + 512]).sum().item() for i in range(0, len(their), 512))
    model.train()
    return all_sum(hits, world) / len(labels)


def main() -> None:
    ap = training_parser(__doc__, lr=3e-3, save='../../.cache/classifier.pt')
    ap.add_argument('--train-limit', type=int, help='train on the first N training scenes only')
    args = ap.parse_args()
    data_parallel(train, args.processes, args)


def train(rank: int, world: int, args) -> None:
    setup(args.seed)
    timer = Timer()
    log = print if rank == 0 else (lambda *_, **__: None)
    train_u8, train_records = load_split(args.data, 'train')
    if args.train_limit:
        train_u8, train_records = train_u8[: args.train_limit], train_records[: args.train_limit]
    val_u8, val_records = load_split(args.data, 'val')
    x, vx = normalise(train_u8), normalise(val_u8)
    y = torch.tensor([r['label_index'] for r in train_records])
    vy = torch.tensor([r['label_index'] for r in val_records])
    model = FoodClassifier(len(FOOD_CLASSES))
    params = sum(p.numel() for p in model.parameters())
    log(f'[{timer}] classifier: {params / 1e6:.2f} M parameters, {len(y)} train / {len(vy)} val, {world} processes', flush=True)
    # Each process normalises its own shard (BatchNorm is not synchronised): batch statistics over
    # 128 / world images, as usual for data-parallel training.
    forward = nn.parallel.DistributedDataParallel(model) if world > 1 else model
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    total = math.ceil(len(y) / args.batch) * args.epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=total)
    # Seeded alike in every process: all draw the same batches and flips, each trains on its shard.
    gen = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        order = torch.randperm(len(y), generator=gen)
        running = 0.0
        for start in range(0, len(order), args.batch):
            batch = order[start:start + args.batch]
            # Horizontal flips keep the label (the largest item) and double the drawings' poses.
            flip = shard(torch.rand(len(batch), generator=gen) < 0.5, rank, world)
            idx = shard(batch, rank, world)
            images = x[idx]
            images = torch.where(flip.view(-1, 1, 1, 1), images.flip(-1), images)
            loss = nn.functional.cross_entropy(forward(images), y[idx], label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            running += loss.item() * len(idx)
        loss_per_image = all_sum(running, world) / len(order)
        log(f'[{timer}] epoch {epoch + 1}/{args.epochs} loss {loss_per_image:.4f} val top-1 {accuracy(model, vx, vy, rank, world):.4f}', flush=True)

    if rank != 0:
        return
    args.save.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), args.save)
    # eval() on the wrapper itself: torch.onnx.export (in onnx_export) restores the module's own mode afterwards,
    # and a wrapper left in training mode would put BatchNorm back on batch statistics.
    exported = Exported(model).eval()
    path = args.repo / 'food_classifier' / '1' / 'model.onnx'
    path.parent.mkdir(parents=True, exist_ok=True)
    sample = vx[:4]
    onnx_export(exported, (sample,), path, ['pixel_values'], ['probabilities', 'embedding'])
    onnx.checker.check_model(onnx.load(str(path)))
    with torch.no_grad():
        probs, emb = exported(sample)
    write_parity(args.parity / 'food_classifier.json', 'food_classifier', {'pixel_values': sample}, {'probabilities': probs, 'embedding': emb})
    write_text(args.repo / 'food_classifier' / 'labels.txt', '\n'.join(FOOD_CLASSES) + '\n')
    header = ('Demo Food-11 classifier, trained on generated cartoon food scenes (see README.md).\n'
              'Written by model-tools/python/train_classifier.py; export_classifier.py gives a real\n'
              'checkpoint the same interface. Alternative configurations live in configs/.')
    size = train_u8.shape[1]
    triton_configs.write_with_variants(args.repo / 'food_classifier', lambda variant: triton_configs.classifier_config(
        header, size, len(FOOD_CLASSES), 128, image_parameters(size, MEAN, STD), variant))
    write_training_summary(args.parity / 'classifier-training.json', params, args.epochs, world, timer)
    log(f'[{timer}] exported to {path}', flush=True)


if __name__ == '__main__':
    main()
