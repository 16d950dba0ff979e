"""Helpers shared by export_blip.py and export_classifier.py: failing with a clear message,
config.pbtxt reading/formatting, synthetic images, ONNX export and the TypeScript parity check.

Only the standard library is imported at module level, so a missing dependency can be reported
(exit code 2) before anything heavy is imported.
"""
from __future__ import annotations

import importlib.util
import inspect
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parents[1]
PYTHON_TOOLS = PROJECT / 'model-tools' / 'python'
CHECK_PARITY = PROJECT / 'model-tools' / 'check' / 'check-parity.ts'

EXIT_USAGE = 2      # missing dependency, missing file, unusable checkpoint or argument
EXIT_PARITY = 1     # exported, but PyTorch and ONNX (or HF and the gateway loop) disagree

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
RESCALE_1_255 = '0.00392156862745098'

# Food-11 in canonical order (index = the dataset's file-name prefix), spelled as the demo
# classifier's labels.txt (model-tools/python/data.py FOOD_CLASSES): lower case, because the
# label is substituted into the caption prompt template.
FOOD11_LABELS = [
    'bread', 'dairy product', 'dessert', 'egg', 'fried food', 'meat',
    'noodles/pasta', 'rice', 'seafood', 'soup', 'vegetable/fruit',
]


class ExportError(Exception):
    """A problem the user must fix (missing file, dependency, unusable checkpoint): exit 2."""


def fail(tool: str, message: str, code: int = EXIT_USAGE) -> None:
    print(f'{tool}: error: {message}', file=sys.stderr, flush=True)
    sys.exit(code)


def missing_modules(names: list[str]) -> list[str]:
    return [n for n in names if importlib.util.find_spec(n) is None]


def fmt_floats(xs) -> str:
    return ','.join(f'{float(x):.8g}' for x in xs)


# --- config.pbtxt ---------------------------------------------------------------------------

_PARAM = re.compile(r'key\s*:\s*"([^"]+)"\s*value\s*:?\s*\{\s*string_value\s*:\s*"((?:[^"\\]|\\.)*)"\s*\}')
_DIMS = re.compile(r'dims\s*:\s*\[([^\]]*)\]')


def read_pbtxt_parameters(path: Path) -> dict[str, str]:
    """The `parameters` of a config.pbtxt as {key: string_value} (both list and repeated-field
    syntax; only string_value parameters, which is all Triton supports)."""
    text = _strip_comments(path.read_text())
    return {k: v.encode().decode('unicode_escape') for k, v in _PARAM.findall(text)}


def read_pbtxt_dims(path: Path) -> list[list[int]]:
    """Every `dims: [ ... ]` list in the file, in order (inputs come first in our configs)."""
    text = _strip_comments(path.read_text())
    out = []
    for m in _DIMS.findall(text):
        try:
            out.append([int(x) for x in m.replace(' ', '').split(',') if x])
        except ValueError:
            continue
    return out


def _strip_comments(text: str) -> str:
    """Drops `# ...` comments outside double-quoted strings."""
    out = []
    for line in text.splitlines():
        quoted, escaped, cut = False, False, len(line)
        for i, ch in enumerate(line):
            if escaped:
                escaped = False
            elif ch == '\\':
                escaped = True
            elif ch == '"':
                quoted = not quoted
            elif ch == '#' and not quoted:
                cut = i
                break
        out.append(line[:cut])
    return '\n'.join(out)


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# --- tensors --------------------------------------------------------------------------------

def synthetic_images(batch: int, size: int, seed: int = 0):
    """A batch of smooth, photo-like RGB images in [0, 1], quantised to 1/255 steps as decoded
    8-bit images are: low-resolution noise upsampled bicubically plus a little fine noise."""
    import torch
    import torch.nn.functional as F
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(batch, 3, 6, 6, generator=g)
    x = F.interpolate(coarse, size=(size, size), mode='bicubic', align_corners=False)
    x = x + 0.04 * torch.randn(batch, 3, size, size, generator=g)
    return (x.clamp(0, 1) * 255).round() / 255


def normalise(x01, mean, std):
    import torch
    m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return (x01 - m) / s


def onnx_export(module, args: tuple, path: Path, input_names: list[str], output_names: list[str], opset: int = 14) -> None:
    """torch.onnx.export with the TorchScript exporter (dynamo=False where torch has that switch,
    since torch 2.9 defaults to the dynamo exporter), batch axis 0 dynamic on every tensor."""
    import torch
    path.parent.mkdir(parents=True, exist_ok=True)
    kwargs = dict(
        input_names=input_names, output_names=output_names,
        dynamic_axes={n: {0: 'batch'} for n in input_names + output_names},
        opset_version=opset, do_constant_folding=True,
    )
    if 'dynamo' in inspect.signature(torch.onnx.export).parameters:
        kwargs['dynamo'] = False
    torch.onnx.export(module, args, str(path), **kwargs)


def declare_shapes(path: Path, want: dict[str, dict[str, list]]) -> None:
    """Writes the expected I/O shapes into the graph where the exporter left a dimension
    symbolic (some torch versions name every output dimension), so the ONNX file declares the
    same dims as config.pbtxt. Only symbolic, non-batch dims are replaced; fixed ones are kept."""
    import onnx
    model = onnx.load(str(path))
    changed = False
    for vi in list(model.graph.input) + list(model.graph.output):
        dims = {**want['inputs'], **want['outputs']}.get(vi.name)
        shape = vi.type.tensor_type.shape
        if dims is None or len(shape.dim) != len(dims):
            continue
        for d, w in zip(shape.dim, dims):
            if isinstance(w, int) and d.dim_param and not d.dim_value:
                d.Clear()
                d.dim_value = w
                changed = True
            elif isinstance(w, str) and d.dim_param != w and not d.dim_value:
                d.dim_param = w
                changed = True
    if changed:
        onnx.save(model, str(path))


def onnx_io(path: Path) -> dict[str, dict[str, list]]:
    """{'inputs': {name: [dims]}, 'outputs': {...}} with symbolic dims as their names."""
    import onnx
    model = onnx.load(str(path), load_external_data=False)

    def dims(vi):
        return [d.dim_param if d.dim_param else d.dim_value for d in vi.type.tensor_type.shape.dim]

    inits = {i.name for i in model.graph.initializer}
    return {
        'inputs': {i.name: dims(i) for i in model.graph.input if i.name not in inits},
        'outputs': {o.name: dims(o) for o in model.graph.output},
    }


# --- the TypeScript parity check ------------------------------------------------------------

_RESULT = re.compile(r'^(ok  |FAIL) (\S+)\.(\S+): max \|onnx - pytorch\| = (\S+)', re.M)


def run_ts(args: list[str]) -> tuple[int, str]:
    """`npx tsx ARGS` in the project root; (exit code, stdout + stderr without npm's config
    warnings). Exit code 127 when npx is missing."""
    npx = shutil.which('npx')
    if npx is None:
        return 127, 'npx not found on PATH'
    proc = subprocess.run([npx, 'tsx', *args], cwd=PROJECT, capture_output=True, text=True)
    out = '\n'.join(line for line in (proc.stdout + proc.stderr).splitlines() if not line.startswith('npm warn'))
    return proc.returncode, out


def run_ts_parity(repo: Path, parity: Path, files: list[str]) -> tuple[int, dict[str, float], str]:
    """Runs model-tools/check/check-parity.ts (ONNX Runtime for Node) on the given parity files.
    Returns (exit code, {model.output: max |diff|}, output). Exit code 127 when npx is missing."""
    rc, out = run_ts([str(CHECK_PARITY), '--repo', str(repo.resolve()), '--parity', str(parity.resolve()), '--files', ','.join(files)])
    diffs = {f'{m}.{o}': float(d) for _, m, o, d in _RESULT.findall(out)}
    return rc, diffs, out


def ts_check_command(repo: Path, parity: Path, files: list[str]) -> str:
    return f'npx tsx model-tools/check/check-parity.ts --repo {repo} --parity {parity} --files {",".join(files)}'
