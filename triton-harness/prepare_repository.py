"""Writes a copy of a Triton model repository that PyPI's tritonserver can serve.

Each ONNX model keeps its config.pbtxt (and configs/*.pbtxt) byte for byte, except:
  backend: "onnxruntime" (or platform: "onnxruntime_onnx")  ->  backend: "python"
  KIND_GPU                                                  ->  KIND_CPU, without its gpus list
and gets onnx_model.py as model.py beside its model.onnx (linked, not copied). Everything else
(ensembles, labels, tokenizer.json) is linked unchanged. The copy is never committed.

usage: prepare_repository.py SOURCE TARGET
"""
from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ONNX_BACKEND = re.compile(r'^(backend:\s*"onnxruntime"|platform:\s*"onnxruntime_onnx")\s*$', re.M)
GPUS = re.compile(r'\s*gpus:\s*\[[^\]]*\]')


def rewrite_config(text: str) -> str:
    """The config with Triton's python backend and CPU instances in place of onnxruntime and GPUs."""
    if not ONNX_BACKEND.search(text):
        return text
    text = ONNX_BACKEND.sub('backend: "python"', text)
    # A KIND_CPU group may not name GPUs, so the list goes with the kind.
    return GPUS.sub('', text).replace('KIND_GPU', 'KIND_CPU')


def prepare(source: Path, target: Path) -> list[str]:
    """Writes the copy; returns the names of the models that now run under the python backend."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    rewritten = []
    for model in sorted(p for p in source.iterdir() if p.is_dir()):
        out = target / model.name
        for path in sorted(model.rglob('*')):
            dest = out / path.relative_to(model)
            if path.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
            elif path.suffix == '.pbtxt':
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_text(rewrite_config(path.read_text()))
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.symlink_to(path.resolve())
            if path.name == 'model.onnx':
                (dest.parent / 'model.py').symlink_to(HERE / 'onnx_model.py')
        config = out / 'config.pbtxt'
        if config.exists() and 'backend: "python"' in config.read_text():
            rewritten.append(model.name)
    return rewritten


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    names = prepare(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f'python backend: {", ".join(names) or "none"}', file=sys.stderr)
