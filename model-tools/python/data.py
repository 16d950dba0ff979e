"""Loads a split written by model-tools/scenes/write-dataset.ts: S x S RGB PNGs already resized
exactly as the gateway resizes (sharp, fill, cubic), plus labels.jsonl."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

# CLIP's constants, as BLIP uses; the classifier shares them so one preprocessed tensor feeds both.
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)

FOOD_CLASSES = [
    'bread', 'dairy product', 'dessert', 'egg', 'fried food', 'meat',
    'noodles/pasta', 'rice', 'seafood', 'soup', 'vegetable/fruit',
]


def load_split(root: Path, split: str) -> tuple[torch.Tensor, list[dict]]:
    """uint8 images [N,S,S,3] and their label records, in file order."""
    records = [json.loads(line) for line in (root / split / 'labels.jsonl').read_text().splitlines() if line]
    images = np.stack([np.asarray(Image.open(root / split / r['file']).convert('RGB')) for r in records])
    return torch.from_numpy(images), records


def normalise(images_u8: torch.Tensor) -> torch.Tensor:
    """uint8 NHWC -> float NCHW, scaled 1/255 and normalised with MEAN/STD."""
    x = images_u8.permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (x - mean) / std
