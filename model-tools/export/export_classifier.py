"""Exports a torchvision ResNet-50 or MobileNetV2 fine-tuned on Food-11 (11 classes) to the
Triton model repository as `food_classifier`, with the same interface as the demo classifier
(model-tools/python/train_classifier.py):

  pixel_values FP32 [B,3,S,S] -> probabilities FP32 [B,11] (softmax; labels in labels.txt)
                                 embedding     FP32 [B,E]  (pooled penultimate features:
                                                            ResNet-50 2048, MobileNetV2 1280)

  .venv/bin/python model-tools/export/export_classifier.py --arch mobilenet_v2 \\
      --checkpoint food11.pth --repo model_repository \\
      [--labels labels.txt] [--input-like model_repository/caption_encoder/config.pbtxt [--antialias]] \\
      [--parity DIR] [--no-check]
  .venv/bin/python model-tools/export/export_classifier.py --arch resnet50 --random --repo /tmp/repo

The networks are torchvision's, rebuilt in plain torch by torchvision_nets.py (torchvision cannot
be installed beside this torch), so torchvision state_dicts load unchanged; a whole pickled
torchvision model cannot be unpickled without torchvision and is refused with exit 2.

Without --input-like the graph takes 224x224 ImageNet-normalised pixels, as torchvision
classifiers are trained. With --input-like the graph takes the caption encoder's own
pixel_values (size, mean and std read from that config.pbtxt), because the food_caption
ensemble feeds one preprocessed tensor to both models; an adapter at the front of the graph
undoes the caption normalisation, resizes to 224x224 (bilinear, half-pixel centres as
F.interpolate(align_corners=False); no antialiasing unless --antialias) and normalises with
ImageNet's mean/std before the network runs.

Writes food_classifier/1/model.onnx, food_classifier/config.pbtxt and its
configs/cpu|gpu|dynamic|multi_gpu.pbtxt variants (rendered by triton_configs.py as the demo
classifier's: same tensor names and scheduling, this network's dims and image parameters),
food_classifier/labels.txt, and <parity>/food_classifier.json (inputs and PyTorch outputs), then
runs the TypeScript parity check (ONNX Runtime for Node), which requires max |ONNX - PyTorch| < 1e-4.
Exit codes: 0 ok, 1 parity failed, 2 missing dependency/file or unusable checkpoint.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import export_common as ec  # noqa: E402
import triton_configs  # noqa: E402

TOOL = 'export_classifier'
NETWORK_SIZE = 224
EMBEDDING = {'resnet50': 2048, 'mobilenet_v2': 1280}
IMAGE_KEYS = ('image_size', 'resize_mode', 'resample', 'rescale_factor', 'image_mean', 'image_std')

def render_config(arch: str, source: str, size: int, classes: int, embedding: int, params: dict[str, str], input_note: str,
                  variant: str = 'default') -> str:
    """food_classifier's configuration of `variant` ('default' is config.pbtxt's, or one of
    triton_configs.VARIANTS), rendered by triton_configs.py as the demo classifier's."""
    header = (f'Food-11 classifier ({arch}), exported by model-tools/export/export_classifier.py from {source}.\n'
              'probabilities = softmax over the 11 classes in labels.txt; embedding = pooled penultimate features.\n'
              f'{input_note}')
    return triton_configs.classifier_config(header, size, classes, embedding, params, variant)


# --- input side ------------------------------------------------------------------------------

def caption_input_spec(path: Path) -> dict:
    """Size, normalisation and the image parameters of the caption encoder's config.pbtxt."""
    if not path.is_file():
        raise ec.ExportError(f'--input-like file not found: {path}')
    params = ec.read_pbtxt_parameters(path)
    missing = [k for k in ('image_size', 'image_mean', 'image_std') if k not in params]
    if missing:
        raise ec.ExportError(f'{path} has no parameter(s) {", ".join(missing)}: expected a caption encoder config.pbtxt')
    size = int(params['image_size'])
    mean = [float(x) for x in params['image_mean'].split(',')]
    std = [float(x) for x in params['image_std'].split(',')]
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise ec.ExportError(f'{path}: image_mean/image_std must be 3 comma-separated numbers (std > 0)')
    if [3, size, size] not in ec.read_pbtxt_dims(path):
        raise ec.ExportError(f'{path}: no input with dims [ 3, {size}, {size} ] matching image_size {size}')
    image_params = {k: params[k] for k in IMAGE_KEYS if k in params}
    image_params.setdefault('resize_mode', 'squash')
    image_params.setdefault('resample', 'bicubic')
    image_params.setdefault('rescale_factor', ec.RESCALE_1_255)
    return {'size': size, 'mean': mean, 'std': std, 'params': {k: image_params[k] for k in IMAGE_KEYS}}


def imagenet_input_spec() -> dict:
    return {
        'size': NETWORK_SIZE, 'mean': list(ec.IMAGENET_MEAN), 'std': list(ec.IMAGENET_STD),
        'params': {
            'image_size': str(NETWORK_SIZE), 'resize_mode': 'squash',
            # torchvision's transforms.Resize default; the gateway supports bicubic/bilinear/nearest.
            'resample': 'bilinear', 'rescale_factor': ec.RESCALE_1_255,
            'image_mean': ec.fmt_floats(ec.IMAGENET_MEAN), 'image_std': ec.fmt_floats(ec.IMAGENET_STD),
        },
    }


def resize_taps(size_in: int, size_out: int, antialias: bool):
    """Index and weight tables [K, size_out] of a bilinear resize with half-pixel centres, as
    torch.nn.functional.interpolate(mode='bilinear', align_corners=False) computes them: without
    antialias the 2 neighbours of the source coordinate (clamped at the edges); with antialias
    the triangle filter widened by the downscale factor (PIL's and torch's antialias=True)."""
    import math
    import torch
    scale = size_in / size_out
    rows: list[list[tuple[int, float]]] = []
    for i in range(size_out):
        if not antialias or scale <= 1:
            src = max((i + 0.5) * scale - 0.5, 0.0)
            i0 = min(int(math.floor(src)), size_in - 1)
            i1 = min(i0 + 1, size_in - 1)
            l1 = src - i0
            rows.append([(i0, 1.0 - l1), (i1, l1)])
        else:
            support = scale  # triangle filter support 1, widened by the downscale factor
            center = scale * (i + 0.5)
            lo = max(int(center - support + 0.5), 0)
            hi = min(int(center + support + 0.5), size_in)
            taps = [(j, max(0.0, 1.0 - abs((j - center + 0.5) / scale))) for j in range(lo, hi)]
            total = sum(t for _, t in taps)
            rows.append([(j, t / total) for j, t in taps])
    k = max(len(r) for r in rows)
    idx = torch.zeros(k, size_out, dtype=torch.long)
    w = torch.zeros(k, size_out, dtype=torch.float64)
    for i, r in enumerate(rows):
        for t, (j, wt) in enumerate(r):
            idx[t, i], w[t, i] = j, wt
        for t in range(len(r), k):  # pad with zero-weight taps on a valid index
            idx[t, i] = r[-1][0]
    return idx, w.float()


def build_modules():
    """The nn.Module classes, defined once torch is known to be importable."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class SeparableResize(nn.Module):
        """Resizes the two spatial axes with fixed taps: out[.., i] = sum_k x[.., idx[k, i]] * w[k, i],
        rows then columns. Gather + Mul + Add export to ONNX and evaluate with the same arithmetic
        in ONNX Runtime as in PyTorch (ONNX Resize's linear mode does not: its coordinate maths
        differed from F.interpolate by up to 2.5e-5 here, which a ResNet amplifies past 1e-4)."""

        def __init__(self, size_in: int, size_out: int, antialias: bool):
            super().__init__()
            idx, w = resize_taps(size_in, size_out, antialias)
            self.register_buffer('idx', idx)
            self.register_buffer('w', w)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            taps = self.idx.shape[0]
            rows = sum(x.index_select(2, self.idx[k]) * self.w[k].view(1, 1, -1, 1) for k in range(taps))
            return sum(rows.index_select(3, self.idx[k]) * self.w[k].view(1, 1, 1, -1) for k in range(taps))

    class CaptionInputAdapter(nn.Module):
        """pixel_values normalised for the caption encoder (size S, mean m, std s) ->
        224x224 ImageNet-normalised pixels. Undo: x01 = p*s + m; resize; redo: (x01 - m')/s'.
        Interpolation weights sum to one, so the per-channel affine maps commute with the resize
        and are fused into one multiply-add after it: out = resize(p) * (s/s') + (m - m')/s'."""

        def __init__(self, size_in: int, mean_in, std_in, antialias: bool = False, size_out: int = NETWORK_SIZE,
                     mean_out=ec.IMAGENET_MEAN, std_out=ec.IMAGENET_STD):
            super().__init__()
            self.resize = SeparableResize(size_in, size_out, antialias) if size_in != size_out else None
            mi, si = torch.tensor(mean_in, dtype=torch.float64), torch.tensor(std_in, dtype=torch.float64)
            mo, so = torch.tensor(mean_out, dtype=torch.float64), torch.tensor(std_out, dtype=torch.float64)
            self.register_buffer('scale', (si / so).view(1, 3, 1, 1).float())
            self.register_buffer('shift', ((mi - mo) / so).view(1, 3, 1, 1).float())

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            x = self.resize(pixel_values) if self.resize is not None else pixel_values
            return x * self.scale + self.shift

    class Served(nn.Module):
        """[adapter] -> backbone -> pooled features (embedding) -> head -> softmax."""

        def __init__(self, net: nn.Module, arch: str, adapter: nn.Module | None):
            super().__init__()
            self.net, self.arch, self.adapter = net, arch, adapter

        def embed(self, x: torch.Tensor) -> torch.Tensor:
            m = self.net
            if self.arch == 'resnet50':
                x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
                x = m.layer4(m.layer3(m.layer2(m.layer1(x))))
                return torch.flatten(m.avgpool(x), 1)
            x = m.features(x)  # mobilenet_v2, as torchvision's MobileNetV2._forward_impl
            return torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1)

        def head(self, embedding: torch.Tensor) -> torch.Tensor:
            return self.net.fc(embedding) if self.arch == 'resnet50' else self.net.classifier(embedding)

        def forward(self, pixel_values: torch.Tensor):
            x = self.adapter(pixel_values) if self.adapter is not None else pixel_values
            embedding = self.embed(x)
            return self.head(embedding).softmax(dim=-1), embedding

    return CaptionInputAdapter, Served


# --- the network -----------------------------------------------------------------------------

def torchvision_model(arch: str, num_classes: int):
    """torchvision's `arch` with weights=None, rebuilt in plain torch (torchvision_nets.py: the
    same module names, shapes and initialisation, so torchvision state_dicts load unchanged)."""
    import torchvision_nets
    return torchvision_nets.build(arch, num_classes)


def torch_load(path: Path):
    import torch
    try:
        # Whole pickled models need weights_only=False (the default before torch 2.6). Only load
        # checkpoints you trust: unpickling can run code.
        return torch.load(str(path), map_location='cpu', weights_only=False)
    except TypeError:  # torch without the weights_only argument
        return torch.load(str(path), map_location='cpu')


def find_state_dict(obj) -> dict:
    """The tensor dict inside a checkpoint: plain, or under state_dict / model_state_dict / model
    (Lightning, common training loops), with 'module.' / 'model.' / '_orig_mod.' prefixes removed."""
    import torch
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        sd = dict(obj)
    elif isinstance(obj, dict):
        for key in ('state_dict', 'model_state_dict', 'model', 'net', 'weights'):
            if key in obj and isinstance(obj[key], dict):
                return find_state_dict(obj[key])
        raise ec.ExportError(f'no state_dict found in the checkpoint (top-level keys: {sorted(obj)[:10]})')
    else:
        raise ec.ExportError(f'checkpoint holds a {type(obj).__name__}, expected a state_dict or an nn.Module')
    changed = True
    while changed:
        changed = False
        for prefix in ('module.', 'model.', '_orig_mod.'):
            if sd and all(k.startswith(prefix) for k in sd):
                sd = {k[len(prefix):]: v for k, v in sd.items()}
                changed = True
    return sd


def head_from_state_dict(arch: str, sd: dict):
    """Rebuilds a single-Linear head: torchvision's own (resnet `fc`, mobilenet `classifier.1`) or
    a Sequential with one Linear at index i (dropouts elsewhere, as fine-tuning scripts write)."""
    from torch import nn
    prefix = 'fc' if arch == 'resnet50' else 'classifier'
    keys = {k: v for k, v in sd.items() if k == prefix or k.startswith(prefix + '.')}
    if not keys:
        raise ec.ExportError(f"no '{prefix}.*' keys in the state_dict: not a torchvision {arch} checkpoint (wrong --arch?)")
    if f'{prefix}.weight' in keys and set(keys) <= {f'{prefix}.weight', f'{prefix}.bias'}:
        w = keys[f'{prefix}.weight']
        return nn.Linear(w.shape[1], w.shape[0], bias=f'{prefix}.bias' in keys), prefix
    indices = {int(k.split('.')[1]) for k in keys if k.split('.')[1].isdigit()}
    linears = [i for i in indices if keys.get(f'{prefix}.{i}.weight') is not None and keys[f'{prefix}.{i}.weight'].dim() == 2]
    if len(linears) == 1 and set(keys) <= {f'{prefix}.{linears[0]}.weight', f'{prefix}.{linears[0]}.bias'}:
        i = linears[0]
        w = keys[f'{prefix}.{i}.weight']
        layers = [nn.Dropout() for _ in range(i)] + [nn.Linear(w.shape[1], w.shape[0], bias=f'{prefix}.{i}.bias' in keys)]
        return nn.Sequential(*layers), prefix
    raise ec.ExportError(
        f'unsupported classifier head in the state_dict ({sorted(keys)[:6]}): only a single Linear '
        '(alone or in a Sequential with dropouts) is rebuilt')


def load_network(arch: str, checkpoint: Path):
    from torch import nn
    if not checkpoint.is_file():
        raise ec.ExportError(f'checkpoint not found: {checkpoint}')
    try:
        obj = torch_load(checkpoint)
    except ModuleNotFoundError as e:
        if e.name and e.name.split('.')[0] == 'torchvision':
            # A whole pickled torchvision model names torchvision's classes, which cannot be
            # imported here (no torchvision build matches this torch): only its weights can be used.
            raise ec.ExportError(
                f'{checkpoint} is a whole pickled torchvision model (torch.save(model)); unpickling it needs torchvision, '
                'which cannot be installed beside this torch. Save its weights where it was trained and pass those: '
                'torch.save(model.state_dict(), "food11.pth")') from None
        raise
    if isinstance(obj, nn.Module):  # a whole model of classes importable here: use its weights
        obj = obj.state_dict()
    sd = find_state_dict(obj)
    head, attr = head_from_state_dict(arch, sd)
    net = torchvision_model(arch, num_classes=1000)
    setattr(net, attr, head)
    result = net.load_state_dict(sd, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ec.ExportError(
            f'state_dict does not fit torchvision {arch}: missing {result.missing_keys[:5]}{"..." if len(result.missing_keys) > 5 else ""}, '
            f'unexpected {result.unexpected_keys[:5]}{"..." if len(result.unexpected_keys) > 5 else ""} (wrong --arch?)')
    return net


def random_network(arch: str, classes: int, seed: int):
    """Random weights (no download). BatchNorm running statistics are calibrated on synthetic
    images so activations have a trained network's scale (fresh stats - mean 0, var 1 - let a
    random ResNet-50's activations grow through 16 residual blocks)."""
    import torch
    from torch import nn
    torch.manual_seed(seed)
    net = torchvision_model(arch, num_classes=classes)
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the calibration batches
    net.train()
    with torch.no_grad():
        for i in range(2):
            net(ec.normalise(ec.synthetic_images(8, NETWORK_SIZE, seed=1000 + i), ec.IMAGENET_MEAN, ec.IMAGENET_STD))
    return net.eval()


def read_labels(path: Path | None, classes: int | None) -> list[str]:
    """--labels (or the Food-11 names); `classes`, when given, must match their number."""
    if path is None:
        labels = list(ec.FOOD11_LABELS)
    else:
        if not path.is_file():
            raise ec.ExportError(f'labels file not found: {path}')
        labels = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if classes is not None and len(labels) != classes:
        raise ec.ExportError(f'{len(labels)} labels but the network has {classes} outputs')
    return labels


# --- main ------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument('--checkpoint', type=Path, help='.pt/.pth: a torchvision state_dict (plain, DataParallel, Lightning, torch.compile)')
    src.add_argument('--random', action='store_true', help="random weights (torchvision's initialisation), for testing the export path")
    ap.add_argument('--arch', choices=sorted(EMBEDDING), required=True)
    ap.add_argument('--repo', type=Path, required=True, help='model repository to write food_classifier/ into')
    ap.add_argument('--labels', type=Path, help='labels.txt, one class per line (default: the 11 Food-11 classes in canonical order)')
    ap.add_argument('--input-like', type=Path, help="caption encoder config.pbtxt whose pixel_values this model should accept")
    ap.add_argument('--antialias', action='store_true',
                    help='with --input-like: antialiased bilinear downscale (as torchvision/PIL resize photos) instead of plain bilinear')
    ap.add_argument('--parity', type=Path, help='directory for food_classifier.json (default: <repo>-parity)')
    ap.add_argument('--no-check', action='store_true', help='write the parity file but do not run the TypeScript check')
    ap.add_argument('--seed', type=int, default=0)
    args = ap.parse_args(argv)
    if args.antialias and not args.input_like:
        ap.error('--antialias only applies with --input-like (the adapter\'s resize)')

    missing = ec.missing_modules(['torch', 'onnx', 'numpy'])
    if missing:
        ec.fail(TOOL, f'{", ".join(missing)} required: bash scripts/setup-python.sh, then run this with .venv/bin/python '
                      '(or pip install -r requirements.txt)')
    try:
        return export(args)
    except ec.ExportError as e:
        ec.fail(TOOL, str(e))
    return 0


def export(args) -> int:
    import onnx
    import torch
    sys.path.insert(0, str(ec.PYTHON_TOOLS))
    from common import write_parity

    spec = caption_input_spec(args.input_like) if args.input_like else imagenet_input_spec()
    if args.random:
        net = random_network(args.arch, len(read_labels(args.labels, None)), args.seed)
        source = 'random weights (--random, for testing)'
    else:
        net = load_network(args.arch, args.checkpoint)
        source = args.checkpoint.name
    net.eval()

    Adapter, Served = build_modules()
    adapter = Adapter(spec['size'], spec['mean'], spec['std'], antialias=args.antialias) if args.input_like else None
    served = Served(net, args.arch, adapter).eval()

    # Two images trace the export; the parity file holds three others (another batch size).
    sample = ec.normalise(ec.synthetic_images(5, spec['size'], seed=args.seed + 7), spec['mean'], spec['std'])
    trace, sample = sample[:2], sample[2:]
    with torch.no_grad():
        probs, embedding = served(sample)
    classes, dim = probs.shape[1], embedding.shape[1]
    if dim != EMBEDDING[args.arch]:
        raise ec.ExportError(f'embedding has {dim} features, expected {EMBEDDING[args.arch]} for {args.arch}')
    labels = read_labels(args.labels, classes)

    model_dir = args.repo / 'food_classifier'
    path = model_dir / '1' / 'model.onnx'
    ec.onnx_export(served, (trace,), path, ['pixel_values'], ['probabilities', 'embedding'])
    want = {'inputs': {'pixel_values': ['batch', 3, spec['size'], spec['size']]},
            'outputs': {'probabilities': ['batch', classes], 'embedding': ['batch', dim]}}
    ec.declare_shapes(path, want)
    onnx.checker.check_model(str(path))
    io = ec.onnx_io(path)
    if io != want:
        raise ec.ExportError(f'exported graph has I/O {io}, expected {want}')

    if args.input_like:
        note = (f'Input: the caption encoder\'s pixel_values ({spec["size"]}x{spec["size"]}, its mean/std); an adapter in the graph '
                f'resizes to {NETWORK_SIZE}x{NETWORK_SIZE} (bilinear, half-pixel centres, antialias {"on" if args.antialias else "off"}) '
                f'and re-normalises with ImageNet mean/std.')
    else:
        note = f'Input: {NETWORK_SIZE}x{NETWORK_SIZE} pixels normalised with ImageNet mean/std, as torchvision classifiers are trained.'
    ec.write_text(model_dir / 'labels.txt', '\n'.join(labels) + '\n')
    triton_configs.write_with_variants(model_dir, lambda variant: render_config(
        args.arch, source, spec['size'], classes, dim, spec['params'], note, variant))

    parity = args.parity or Path(str(args.repo) + '-parity')
    write_parity(parity / 'food_classifier.json', 'food_classifier', {'pixel_values': sample}, {'probabilities': probs, 'embedding': embedding})
    print(f'{TOOL}: wrote {path} ({path.stat().st_size / 1e6:.1f} MB), {model_dir / "config.pbtxt"} (+ configs/), labels.txt, {parity / "food_classifier.json"}')
    print(f'{TOOL}: input {io["inputs"]}, outputs {io["outputs"]}; embedding range [{embedding.min():.3g}, {embedding.max():.3g}]')

    if args.no_check:
        print(f'{TOOL}: parity check skipped; run: {ec.ts_check_command(args.repo, parity, ["food_classifier.json"])}')
        return 0
    rc, diffs, out = ec.run_ts_parity(args.repo, parity, ['food_classifier.json'])
    print(out.rstrip())
    if rc == 127:
        print(f'{TOOL}: warning: npx not found; run the check where Node is installed: '
              f'{ec.ts_check_command(args.repo, parity, ["food_classifier.json"])}', file=sys.stderr)
        return 0
    return 0 if rc == 0 else ec.EXIT_PARITY


if __name__ == '__main__':
    sys.exit(main())
