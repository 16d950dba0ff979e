"""The peer a user would run instead of the gateway: transformers' own
BlipForConditionalGeneration(BlipConfig()) (BLIP-base's real architecture, random weights, the
same model export_blip.py --random-base exports) generating in-process on CPU with its KV cache.

Greedy, exactly NEW_TOKENS new tokens (min = max, so every run does the same work), torch limited
to --threads. Prints one JSON object per batch size on stdout; perf/blip-bench.ts reads them.

  .venv/bin/python perf/blip/transformers_generate.py --batches 1,16 --threads 2
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'model-tools' / 'export'))

NEW_TOKENS = 20


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def measure(model, torch, batch: int, repeats: int, new_tokens: int) -> dict:
    size = model.config.vision_config.image_size
    pixels = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(batch))
    with torch.inference_mode():
        model.generate(pixel_values=pixels, max_new_tokens=2, min_new_tokens=2)  # warm-up
        walls, vision, cpus = [], [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            model.vision_model(pixel_values=pixels)
            cpu0, t1 = cpu_seconds(), time.perf_counter()
            out = model.generate(pixel_values=pixels, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                                 num_beams=1, do_sample=False)
            t2 = time.perf_counter()
            cpus.append(cpu_seconds() - cpu0)
            vision.append(t1 - t0)
            walls.append(t2 - t1)
        generated = out.shape[1] - 1  # generate() returns the [DEC] prefix and the new tokens
    wall = median(walls)
    # generate() runs the vision tower itself: seconds_per_batch is the whole caption,
    # vision_seconds the part of it the encoder takes.
    return {'system': 'transformers generate()', 'batch': batch, 'new_tokens': generated,
            'seconds_per_batch': wall, 'vision_seconds': median(vision),
            'cpu_seconds_per_batch': median(cpus),
            'captions_per_s': batch / wall, 'ms_per_step': 1000 * wall / generated}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--batches', default='1,16')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--new-tokens', type=int, default=NEW_TOKENS)
    ap.add_argument('--seed', type=int, default=0)
    args = ap.parse_args()
    import torch
    from export_blip import base_model
    torch.set_num_threads(args.threads)
    model = base_model(args.seed)
    for batch in (int(b) for b in args.batches.split(',')):
        print(json.dumps(measure(model, torch, batch, args.repeats, args.new_tokens)), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
