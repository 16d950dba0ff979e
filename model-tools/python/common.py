"""Helpers shared by the training scripts: seeding, threads, timing, tensors for parity files."""
from __future__ import annotations

import argparse
import base64
import json
import os
import random
import socket
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

# The Triton configurations are shared with the real-model exporters (model-tools/export).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'export'))
import triton_configs  # noqa: E402,F401  (re-exported for the training scripts)
# torch >= 2.9 exports with dynamo (and onnxscript, not installed) unless told otherwise;
# export_common.onnx_export asks for the TorchScript exporter the committed models were made with.
from export_common import onnx_export  # noqa: E402,F401  (re-exported for the training scripts)


def setup(seed: int) -> None:
    """Seeds every generator and keeps this process on one thread (see `data_parallel`)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(1)


def data_parallel(worker: Callable[..., None], processes: int, *args) -> None:
    """Runs `worker(rank, world, *args)` in `processes` processes of one thread each, which train
    one model together: torch's DistributedDataParallel over gloo averages their gradients, so
    each takes 1/world of every batch. Debian's CPU PyTorch leaves these small models on about
    one core whatever its thread count (OpenBLAS GEMMs and the per-matrix loop of batched matmul
    run single-threaded): a captioner step of 128 took 900 ms on 1 or 2 threads, 600 ms as two
    processes of 64 on 2 cores (both with OpenBLAS's Prescott kernels, before train-models.sh
    chose its kernels from the CPU's flags; now about 300 ms)."""
    if processes == 1:
        _init_and_run(0, 1, 0, worker, args)
        return
    with socket.socket() as s:  # a free loopback port for the processes to meet on
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    torch.multiprocessing.spawn(_init_and_run, args=(processes, port, worker, args), nprocs=processes)


def _init_and_run(rank: int, world: int, port: int, worker: Callable[..., None], args: tuple) -> None:
    if world > 1:
        torch.distributed.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=world)
    try:
        worker(rank, world, *args)
    finally:
        if world > 1:
            torch.distributed.destroy_process_group()


def shard(batch: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    """This process's share of a batch of indices."""
    return batch[rank::world]


def all_sum(value: float, world: int) -> float:
    """`value` summed over the processes (itself when there is one)."""
    if world == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    torch.distributed.all_reduce(t)
    return float(t.item())


class Timer:
    def __init__(self) -> None:
        self.start = time.time()

    @property
    def seconds(self) -> float:
        return time.time() - self.start

    def __str__(self) -> str:
        return f'{self.seconds:6.1f}s'


def write_training_summary(path: Path, parameters: int, epochs: int, processes: int, timer: Timer) -> None:
    """The parity folder's record of a training run: size, epochs, processes and wall time."""
    summary = {'parameters': parameters, 'epochs': epochs, 'processes': processes, 'seconds': round(timer.seconds, 1)}
    path.write_text(json.dumps(summary) + '\n')


def tensor_record(t: torch.Tensor) -> dict:
    """A tensor as {dtype, shape, b64 of little-endian row-major bytes}, for the TS parity check."""
    arr = t.detach().cpu().contiguous().numpy()
    dtype = {np.dtype('float32'): 'FP32', np.dtype('int64'): 'INT64'}[arr.dtype]
    return {'datatype': dtype, 'shape': list(arr.shape), 'b64': base64.b64encode(arr.astype(arr.dtype.newbyteorder('<')).tobytes()).decode()}


def write_parity(path: Path, model: str, inputs: dict[str, torch.Tensor], outputs: dict[str, torch.Tensor]) -> None:
    """Inputs and PyTorch outputs of a held-out batch; the TS check runs the ONNX file on the
    same inputs and requires max |difference| < 1e-4."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {'model': model, 'inputs': {k: tensor_record(v) for k, v in inputs.items()}, 'outputs': {k: tensor_record(v) for k, v in outputs.items()}}
    path.write_text(json.dumps(doc) + '\n')


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def image_parameters(size: int, mean, std) -> dict[str, str]:
    """The preprocessing parameters of the demo models' configs: BLIP's squash resize, bicubic,
    1/255 and the given mean/std (CLIP's)."""
    fmt = lambda xs: ','.join(f'{x:.8g}' for x in xs)
    return {'image_size': str(size), 'resize_mode': 'squash', 'resample': 'bicubic',
            'rescale_factor': '0.00392156862745098', 'image_mean': fmt(mean), 'image_std': fmt(std)}


def training_parser(doc: str, lr: float, save: str) -> argparse.ArgumentParser:
    """The options both training scripts take; each adds its own."""
    ap = argparse.ArgumentParser(description=doc)
    ap.add_argument('--data', type=Path, required=True)
    ap.add_argument('--repo', type=Path, required=True)
    ap.add_argument('--parity', type=Path, required=True)
    ap.add_argument('--epochs', type=int, default=8)
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--lr', type=float, default=lr)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--processes', type=int, default=os.cpu_count() or 1, help='data-parallel training processes, one thread each (one per core)')
    ap.add_argument('--save', type=Path, default=Path(save), help='where to keep the PyTorch weights (state_dict)')
    return ap
