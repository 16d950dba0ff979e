"""Tests of model-tools/export: export_classifier.py end to end with random weights (ONNX graph
checked with the onnx package, parity checked by the project's TypeScript checker on ONNX Runtime
for Node, config.pbtxt read back by the model server's parser and the gateway's spec reader), and
export_blip.py: its fail-fast behaviour, its parts, and --random-tiny end to end (transformers'
generate() against the gateway's captions over the exported ONNX, on the embedded model server
and on the real tritonserver).

  bash model-tools/export/run-tests.sh        (= .venv/bin/python -m unittest discover -s model-tools/export/tests)

Needs the project's .venv (bash scripts/setup-python.sh) and Node with the project's npm packages.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXPORT = HERE.parent
PROJECT = EXPORT.parents[1]
sys.path.insert(0, str(EXPORT))
sys.path.insert(0, str(PROJECT / 'model-tools' / 'python'))

import export_common as ec  # noqa: E402


CAPTION_ENCODER_CONFIG = '''name: "caption_encoder"
backend: "onnxruntime"
max_batch_size: 16
input [ { name: "pixel_values" data_type: TYPE_FP32 dims: [ 3, 384, 384 ] } ]
output [ { name: "image_embeds" data_type: TYPE_FP32 dims: [ 577, 768 ] } ]
parameters [
  { key: "image_size" value: { string_value: "384" } },
  { key: "resize_mode" value: { string_value: "squash" } },
  { key: "resample" value: { string_value: "bicubic" } },
  { key: "rescale_factor" value: { string_value: "0.00392156862745098" } },
  { key: "image_mean" value: { string_value: "0.48145466,0.4578275,0.40821073" } },
  { key: "image_std" value: { string_value: "0.26862954,0.26130258,0.27577711" } }
]
'''

# The caption decoder parameters the gateway reads, in the demo's order (train_captioner.py).
DECODER_KEYS = ['tokenizer', 'max_length', 'bos_token_id', 'eos_token_id', 'pad_token_id', 'default_prompt', 'prompt_template', 'max_new_tokens']

# The hub's preprocessor_config.json of Salesforce/blip-image-captioning-base.
BLIP_PREPROCESSOR = {
    'do_normalize': True, 'do_resize': True, 'image_processor_type': 'BlipImageProcessor', 'processor_class': 'BlipProcessor', 'size': 384,
    'image_mean': [0.48145466, 0.4578275, 0.40821073], 'image_std': [0.26862954, 0.26130258, 0.27577711],
}

# Reads config.pbtxt files back with the model server's parser/validator and the gateway's spec
# readers, printing one JSON line: {model: {image?, decoder?, outputs}}.
TS_READ_CONFIGS = '''
(async () => {
  const { readFileSync } = await import('node:fs');
  const cfg = await import(process.env.PROJECT + '/modelserver/src/config/index.ts');
  const spec = await import(process.env.PROJECT + '/gateway/src/triton/model-spec.ts');
  const out = {};
  for (const [name, dir] of Object.entries(JSON.parse(process.env.MODELS))) {
    const file = dir + '/config.pbtxt';
    const config = cfg.normaliseModelConfig(cfg.parseModelConfigText(readFileSync(file, 'utf8'), file), name);
    cfg.validateModelConfig(config, file);
    const r = { outputs: config.output.map((o) => ({ name: o.name, dims: o.dims.map(Number), label: o.labelFilename })) };
    if (name === 'caption_decoder') r.decoder = spec.decoderSpecOf(config); else r.image = spec.imageSpecOf(config);
    out[name] = r;
  }
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(String(e)); process.exit(1); });
'''


# Writes a MobileNetV2 whose pickle names torchvision.models.mobilenetv2.MobileNetV2, as
# torch.save(model) does where torchvision is installed (argv[1]: the file).
PICKLE_AS_TORCHVISION = '''
import sys, types, torch
sys.path.insert(0, %r)
import torchvision_nets
for name in ('torchvision', 'torchvision.models', 'torchvision.models.mobilenetv2'):
    sys.modules[name] = types.ModuleType(name)
class MobileNetV2(torchvision_nets.MobileNetV2):
    pass
MobileNetV2.__module__ = 'torchvision.models.mobilenetv2'
sys.modules['torchvision.models.mobilenetv2'].MobileNetV2 = MobileNetV2
torch.save(MobileNetV2(num_classes=11), sys.argv[1])
''' % str(EXPORT)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=PROJECT, capture_output=True, text=True, **kw)


def ts_parity(repo: Path, parity: Path) -> dict[str, float]:
    """The project's TypeScript parity check, as a user runs it."""
    proc = run(['npx', 'tsx', 'model-tools/check/check-parity.ts', '--repo', str(repo), '--parity', str(parity), '--files', 'food_classifier.json'])
    diffs = {f'{m}.{o}': float(d) for _, m, o, d in re.findall(r'^(ok  |FAIL) (\S+)\.(\S+): max \|onnx - pytorch\| = (\S+)', proc.stdout, re.M)}
    if proc.returncode != 0 or len(diffs) != 2:
        raise AssertionError(f'check-parity failed (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}')
    return diffs


def ts_read_configs(models: dict[str, Path]) -> dict:
    env = dict(os.environ, PROJECT=str(PROJECT), MODELS=json.dumps({k: str(v) for k, v in models.items()}))
    proc = run(['npx', 'tsx', '-e', TS_READ_CONFIGS], env=env)
    if proc.returncode != 0:
        raise AssertionError(f'config read-back failed:\n{proc.stdout}\n{proc.stderr}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def onnx_io(path: Path) -> dict:
    import onnx
    onnx.checker.check_model(str(path))
    return ec.onnx_io(path)


class ClassifierExportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix='export-classifier-'))
        cls.caption_config = cls.tmp / 'caption_repo' / 'caption_encoder' / 'config.pbtxt'
        cls.caption_config.parent.mkdir(parents=True)
        cls.caption_config.write_text(CAPTION_ENCODER_CONFIG)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def export(self, name: str, *extra: str, check: bool = False) -> tuple[Path, Path, subprocess.CompletedProcess]:
        repo, parity = self.tmp / name / 'repo', self.tmp / name / 'parity'
        start = time.time()
        proc = run([sys.executable, str(EXPORT / 'export_classifier.py'), '--repo', str(repo), '--parity', str(parity), *extra,
                    *([] if check else ['--no-check'])])
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        print(f'\n  {name}: exported in {time.time() - start:.1f} s', file=sys.stderr)
        return repo, parity, proc

    def check_model(self, repo: Path, parity: Path, size: int, embedding: int) -> dict:
        io = onnx_io(repo / 'food_classifier' / '1' / 'model.onnx')
        self.assertEqual(io, {'inputs': {'pixel_values': ['batch', 3, size, size]},
                              'outputs': {'probabilities': ['batch', 11], 'embedding': ['batch', embedding]}})
        labels = (repo / 'food_classifier' / 'labels.txt').read_text().splitlines()
        self.assertEqual(labels, ec.FOOD11_LABELS)
        diffs = ts_parity(repo, parity)
        print(f'  parity (ONNX Runtime for Node vs PyTorch): {diffs}', file=sys.stderr)
        self.assertTrue(all(d < 1e-4 for d in diffs.values()), diffs)
        doc = json.loads((parity / 'food_classifier.json').read_text())
        self.assertEqual(doc['inputs']['pixel_values']['shape'][1:], [3, size, size])
        self.assertNotEqual(doc['inputs']['pixel_values']['shape'][0], 2, 'parity batch must differ from the traced batch of 2')
        params = ec.read_pbtxt_parameters(repo / 'food_classifier' / 'config.pbtxt')
        import triton_configs as trc
        for variant in trc.VARIANTS:  # configs/ variants: same dims and parameters, other scheduling
            path = repo / 'food_classifier' / 'configs' / f'{variant}.pbtxt'
            self.assertEqual(ec.read_pbtxt_parameters(path), params, variant)
            self.assertEqual(ec.read_pbtxt_dims(path)[:3], [[3, size, size], [11], [embedding]], variant)
        return params

    def test_labels_match_demo_classifier(self):
        from data import FOOD_CLASSES
        self.assertEqual(ec.FOOD11_LABELS, FOOD_CLASSES)

    def test_mobilenet_v2_imagenet_input(self):
        repo, parity, _ = self.export('mnv2', '--arch', 'mobilenet_v2', '--random')
        params = self.check_model(repo, parity, 224, 1280)
        self.assertEqual(params['image_size'], '224')
        self.assertEqual(params['image_mean'], '0.485,0.456,0.406')
        self.assertEqual(params['image_std'], '0.229,0.224,0.225')
        spec = ts_read_configs({'food_classifier': repo / 'food_classifier'})['food_classifier']
        self.assertEqual(spec['image']['size'], 224)
        self.assertEqual(spec['outputs'], [{'name': 'probabilities', 'dims': [11], 'label': 'labels.txt'},
                                           {'name': 'embedding', 'dims': [1280], 'label': ''}])

    def test_mobilenet_v2_input_like_caption_encoder(self):
        # The script runs the TypeScript check itself here (no --no-check).
        repo, parity, proc = self.export('mnv2-like', '--arch', 'mobilenet_v2', '--random', '--input-like', str(self.caption_config), check=True)
        self.assertIn('ok   food_classifier.embedding', proc.stdout)
        params = self.check_model(repo, parity, 384, 1280)
        self.assertEqual(params, ec.read_pbtxt_parameters(self.caption_config))
        specs = ts_read_configs({'food_classifier': repo / 'food_classifier', 'caption_encoder': self.caption_config.parent})
        self.assertEqual(specs['food_classifier']['image'] | {'model': ''}, specs['caption_encoder']['image'] | {'model': ''})

    def test_resnet50_with_and_without_input_like(self):
        repo, parity, _ = self.export('r50', '--arch', 'resnet50', '--random')
        self.check_model(repo, parity, 224, 2048)
        repo, parity, _ = self.export('r50-like', '--arch', 'resnet50', '--random', '--input-like', str(self.caption_config), '--antialias')
        self.check_model(repo, parity, 384, 2048)
        self.assertIn('antialias on', (repo / 'food_classifier' / 'config.pbtxt').read_text())

    def test_adapter_equals_unnormalise_resize_renormalise(self):
        import torch
        import torch.nn.functional as F
        import export_classifier as xc
        Adapter, _ = xc.build_modules()
        x01 = ec.synthetic_images(2, 384, seed=5)
        pixels = ec.normalise(x01, ec.CLIP_MEAN, ec.CLIP_STD)
        for antialias in (False, True):
            ref = ec.normalise(F.interpolate(x01, size=(224, 224), mode='bilinear', align_corners=False, antialias=antialias),
                               ec.IMAGENET_MEAN, ec.IMAGENET_STD)
            with torch.no_grad():
                got = Adapter(384, ec.CLIP_MEAN, ec.CLIP_STD, antialias=antialias)(pixels)
            self.assertLess(float((got - ref).abs().max()), 2e-5, f'antialias={antialias}')

    def test_checkpoint_formats(self):
        import torch
        from torch import nn
        import export_classifier as xc
        torch.manual_seed(0)
        net = xc.torchvision_model('mobilenet_v2', 11).eval()
        x = torch.randn(2, 3, 224, 224)
        with torch.no_grad():
            want = net(x)
        sd = net.state_dict()
        variants = {
            'plain.pth': sd,
            'dataparallel.pt': {'module.' + k: v for k, v in sd.items()},
            'lightning.ckpt.pt': {'epoch': 3, 'state_dict': {'model.' + k: v for k, v in sd.items()}},
            'whole.pth': net,
        }
        for name, obj in variants.items():
            path = self.tmp / name
            torch.save(obj, path)
            loaded = xc.load_network('mobilenet_v2', path).eval()
            with torch.no_grad():
                self.assertTrue(torch.equal(loaded(x), want), name)
        # A ResNet-50 head written as Sequential(Dropout, Linear) by a fine-tuning script.
        r50 = xc.torchvision_model('resnet50', 1000)
        r50.fc = nn.Sequential(nn.Dropout(0.3), nn.Linear(2048, 11))
        torch.save(r50.state_dict(), self.tmp / 'r50.pth')
        self.assertIsInstance(xc.load_network('resnet50', self.tmp / 'r50.pth').fc[1], nn.Linear)
        # A whole pickled torchvision model: its classes cannot be imported without torchvision,
        # so the exporter says to pass the state_dict instead (exit 2). The pickle is written
        # under torchvision's module name, as torch.save(model) writes it where torchvision runs.
        proc = run([sys.executable, '-c', PICKLE_AS_TORCHVISION, str(self.tmp / 'tv-whole.pth')])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        proc = run([sys.executable, str(EXPORT / 'export_classifier.py'), '--arch', 'mobilenet_v2', '--checkpoint', str(self.tmp / 'tv-whole.pth'),
                    '--repo', str(self.tmp / 'tv-whole')])
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        self.assertIn('whole pickled torchvision model', proc.stderr)
        self.assertIn('torch.save(model.state_dict()', proc.stderr)
        self.assertFalse((self.tmp / 'tv-whole').exists())
        # Wrong architecture: a clear error and exit code 2.
        proc = run([sys.executable, str(EXPORT / 'export_classifier.py'), '--arch', 'resnet50', '--checkpoint', str(self.tmp / 'plain.pth'),
                    '--repo', str(self.tmp / 'wrong')])
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn('wrong --arch?', proc.stderr)

    def test_networks_have_torchvisions_sizes(self):
        """torchvision_nets.py rebuilds torchvision's networks: the parameter counts torchvision
        documents for resnet50 and mobilenet_v2 (1000 classes), and the pooled feature sizes."""
        import torch
        import torchvision_nets as tn
        for arch, params, features in (('resnet50', 25_557_032, 2048), ('mobilenet_v2', 3_504_872, 1280)):
            net = tn.build(arch, 1000).eval()
            self.assertEqual(sum(p.numel() for p in net.parameters()), params, arch)
            with torch.no_grad():
                self.assertEqual(tuple(net(torch.zeros(1, 3, 224, 224)).shape), (1, 1000), arch)
            head = net.fc if arch == 'resnet50' else net.classifier[1]
            self.assertEqual(head.in_features, features, arch)

    def test_usage_errors_exit_2(self):
        bad = self.tmp / 'bad' / 'config.pbtxt'
        bad.parent.mkdir(parents=True, exist_ok=True)
        bad.write_text('name: "x"\nparameters [ { key: "image_size" value: { string_value: "384" } } ]\n')
        for extra, message in (
            (['--random', '--input-like', str(self.tmp / 'nope.pbtxt')], '--input-like file not found'),
            (['--random', '--input-like', str(bad)], 'image_mean'),
            (['--checkpoint', str(self.tmp / 'missing.pth')], 'checkpoint not found'),
        ):
            proc = run([sys.executable, str(EXPORT / 'export_classifier.py'), '--arch', 'mobilenet_v2', '--repo', str(self.tmp / 'err'), *extra])
            self.assertEqual(proc.returncode, 2, proc.stderr)
            self.assertIn(message, proc.stderr)


class BlipExportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix='export-blip-'))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def blip(self, *args: str, python: str = sys.executable) -> subprocess.CompletedProcess:
        return run([python, str(EXPORT / 'export_blip.py'), *args])

    def test_fails_fast_without_transformers(self):
        # -S: this interpreter without its site-packages, so transformers cannot be imported.
        start = time.time()
        proc = run([sys.executable, '-S', str(EXPORT / 'export_blip.py'), '--random-tiny', '--repo', str(self.tmp / 'repo')])
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        self.assertIn('transformers is required', proc.stderr)
        self.assertIn('bash scripts/setup-python.sh', proc.stderr)
        self.assertIn('.venv/bin/python', proc.stderr)
        self.assertLess(time.time() - start, 15)
        self.assertFalse((self.tmp / 'repo').exists())

    def test_missing_checkpoint_files_exit_2(self):
        proc = self.blip('--checkpoint', str(self.tmp / 'nope'), '--repo', str(self.tmp / 'repo'))
        self.assertEqual(proc.returncode, 2)
        self.assertIn('checkpoint directory not found', proc.stderr)
        ck = self.tmp / 'snapshot'
        ck.mkdir()
        (ck / 'config.json').write_text('{}')
        (ck / 'tokenizer.json').write_text('{}')
        proc = self.blip('--checkpoint', str(ck), '--repo', str(self.tmp / 'repo'))
        self.assertEqual(proc.returncode, 2)
        self.assertIn('preprocessor_config.json', proc.stderr)
        self.assertIn('model.safetensors or pytorch_model.bin', proc.stderr)

    def test_image_parameters_of_the_hub_preprocessor(self):
        import export_blip as xb
        self.assertEqual(xb.image_parameters(BLIP_PREPROCESSOR, 384), {
            'image_size': '384', 'resize_mode': 'squash', 'resample': 'bicubic', 'rescale_factor': '0.00392156862745098',
            'image_mean': '0.48145466,0.4578275,0.40821073', 'image_std': '0.26862954,0.26130258,0.27577711',
        })
        with self.assertRaises(ec.ExportError):
            xb.image_parameters({'size': {'shortest_edge': 384}}, 384)
        with self.assertRaises(ec.ExportError):
            xb.image_parameters(BLIP_PREPROCESSOR, 224)

    def test_configs_match_the_demo_configs(self):
        """Rendered by triton_configs.py as train_captioner.py's configs are: for every variant the
        same text as the demo's but for comments, dims and parameter values; the demo's parameter
        keys with BLIP's values; written with configs/ variants and the food_caption ensemble, and
        readable by the model server and the gateway."""
        import export_blip as xb
        import triton_configs as trc
        from common import image_parameters
        image = xb.image_parameters(BLIP_PREPROCESSOR, 384)
        demo_image = image_parameters(64, (0, 0, 0), (1, 1, 1))

        def shape(text: str) -> str:
            text = re.sub(r'(?m)^#.*\n', '', text)
            return re.sub(r'string_value: "[^"]*"', 'string_value: ""', re.sub(r'dims: \[[^\]]*\]', 'dims: []', text))

        for variant in ('default',) + trc.VARIANTS:
            enc, dec = xb.render_configs('test', image, 577, 768, 30524, 40, 30522, 102, 0, 20, variant)
            demo_enc = trc.encoder_config('demo', 64, 65, 64, demo_image, variant)
            demo_dec = trc.decoder_config('demo', 32, 65, 64, 128, dict.fromkeys(DECODER_KEYS, '0'), variant)
            self.assertEqual(shape(enc), shape(demo_enc), variant)
            self.assertEqual(shape(dec), shape(demo_dec), variant)
            self.assertIn('# BLIP vision encoder, exported by model-tools/export/export_blip.py from: test.', enc)
            self.assertIn("# (eos_token_id here is BLIP's sep_token_id 102, not the config's unused eos 2).", dec)
        self.assertEqual(re.findall(r'key: "(\w+)"', enc), list(demo_image))
        self.assertEqual(re.findall(r'key: "(\w+)"', dec), DECODER_KEYS)

        repo = self.tmp / 'cfg'
        xb.write_configs(repo, 'test', image, 577, 768, 30524, 40, 30522, 102, 0, 20)
        for name in ('caption_encoder', 'caption_decoder'):
            for variant in trc.VARIANTS:
                self.assertTrue((repo / name / 'configs' / f'{variant}.pbtxt').is_file(), f'{name} {variant}')
        self.assertEqual((repo / 'caption_encoder' / 'config.pbtxt').read_text(), xb.render_configs('test', image, 577, 768, 30524, 40, 30522, 102, 0, 20)[0])
        params = ec.read_pbtxt_parameters(repo / 'caption_decoder' / 'config.pbtxt')
        self.assertEqual({k: params[k] for k in DECODER_KEYS},
                         {'tokenizer': 'tokenizer.json', 'max_length': '40', 'bos_token_id': '30522', 'eos_token_id': '102', 'pad_token_id': '0',
                          'default_prompt': '', 'prompt_template': 'a photo of {label},', 'max_new_tokens': '20'})
        self.assertEqual((repo / 'food_caption' / 'config.pbtxt').read_text(), trc.food_caption_config(384, 11, 577, 768))
        self.assertEqual((repo / 'food_caption' / 'labels.txt').read_text().splitlines(), ec.FOOD11_LABELS)
        self.assertTrue((repo / 'food_caption' / '1').is_dir())
        specs = ts_read_configs({'caption_encoder': repo / 'caption_encoder', 'caption_decoder': repo / 'caption_decoder'})
        self.assertEqual(specs['caption_encoder']['image']['size'], 384)
        self.assertEqual(specs['caption_encoder']['outputs'][0]['dims'], [577, 768])
        d = specs['caption_decoder']['decoder']
        self.assertEqual((d['maxLength'], d['bosTokenId'], d['eosTokenId'], d['padTokenId'], d['vocabSize']), (40, 30522, 102, 0, 30524))

    def test_food_caption_takes_the_classifier_labels(self):
        import export_blip as xb
        repo = self.tmp / 'labelled'
        (repo / 'food_classifier').mkdir(parents=True)
        (repo / 'food_classifier' / 'labels.txt').write_text('pizza\nsushi\n\ntacos\n')
        self.assertEqual(xb.food_labels(repo), ['pizza', 'sushi', 'tacos'])
        self.assertEqual(xb.food_labels(self.tmp / 'no-classifier'), ec.FOOD11_LABELS)
        xb.write_configs(repo, 'test', xb.image_parameters(BLIP_PREPROCESSOR, 384), 577, 768, 30524, 40, 30522, 102, 0, 20)
        self.assertEqual((repo / 'food_caption' / 'labels.txt').read_text(), 'pizza\nsushi\ntacos\n')
        self.assertIn('{ name: "food_probabilities" data_type: TYPE_FP32 dims: [ 3 ] label_filename: "labels.txt" }',
                      (repo / 'food_caption' / 'config.pbtxt').read_text())

    def test_prefix_and_tiny_vocab_follow_blip(self):
        import export_blip as xb
        # [CLS] a picture of [SEP] -> [DEC] a picture of (HF generate and the gateway alike)
        self.assertEqual(xb.gateway_prefix([101, 1037, 3861, 1997, 102], 30522), [30522, 1037, 3861, 1997])
        self.assertEqual(xb.gateway_prefix([101, 102], 30522), [30522])
        vocab = xb.tiny_vocab()
        self.assertEqual(len(vocab), 30522)
        self.assertEqual([vocab.index(t) for t in ('[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]')], [0, 100, 101, 102, 103])
        self.assertEqual(len(set(vocab)), len(vocab))
        for word in ('photo', 'bread', 'noodles', '/', ',', '##s'):
            self.assertIn(word, vocab)

    def test_gateway_loop_equals_unpadded_decoding(self):
        """gateway_greedy (fixed L, right padding, batched steps of sequences of different lengths,
        last-position logits) against decoding each sequence alone at its exact length, on the
        demo captioner's decoder with random weights."""
        import torch
        import export_blip as xb
        from captioner import Captioner, CaptionerConfig, LastPositionDecoder
        torch.manual_seed(0)
        c = CaptionerConfig(vocab_size=40, max_length=16)
        model = Captioner(c).eval()
        step = LastPositionDecoder(model.decoder)
        with torch.no_grad():
            embeds = model.encoder(torch.randn(2, 3, c.image_size, c.image_size))
        eos, bos = 3, 5
        prefixes = [[bos], [bos, 10, 11, 12], [bos, 7], [bos]]
        images = [0, 0, 1, 1]
        budgets = [12, 6, 20, 0]
        seqs, finish, _ = xb.gateway_greedy(step, embeds, images, prefixes, c.max_length, budgets, eos, pad=0)
        for p, img, budget, got, why in zip(prefixes, images, budgets, seqs, finish):
            ref = list(p)
            with torch.no_grad():
                while len(ref) - len(p) < budget and len(ref) < c.max_length:
                    ids = torch.tensor([ref])
                    t = int(model.decoder(ids, torch.ones_like(ids), embeds[img:img + 1])[0, -1].argmax())
                    ref.append(t)
                    if t == eos:
                        break
            self.assertEqual(got, ref)
            self.assertEqual(why, 'eos' if ref[-1] == eos and len(ref) > len(p) else 'length')
        self.assertEqual(seqs[3], [bos])

    def test_random_base_is_blip_base(self):
        """--random-base builds transformers' BlipConfig(): BLIP-base's architecture with BLIP's
        initializer_range 0.02 (for the vision tower too), and writes under the ignored .cache/."""
        import export_blip as xb
        from transformers import BlipConfig
        c = xb.base_config()
        t, v = c.text_config, c.vision_config
        want = BlipConfig().to_dict()
        want['vision_config']['initializer_range'] = 0.02  # BlipVisionConfig's 1e-10 would make random image_embeds ~0
        self.assertEqual(c.to_dict(), want)
        self.assertEqual((c.initializer_range, t.initializer_range, v.initializer_range), (0.02, 0.02, 0.02))
        self.assertEqual((v.image_size, v.patch_size, v.hidden_size, v.num_hidden_layers), (384, 16, 768, 12))
        self.assertEqual((t.hidden_size, t.num_hidden_layers, t.vocab_size, t.encoder_hidden_size), (768, 12, 30524, 768))
        self.assertEqual((t.bos_token_id, t.sep_token_id, t.pad_token_id), (30522, 102, 0))
        self.assertEqual(xb.RANDOM_BASE_REPO.relative_to(PROJECT).parts[0], '.cache')
        ignored = run(['git', 'check-ignore', '-q', str(xb.RANDOM_BASE_REPO / 'caption_decoder' / '1' / 'model.onnx')])
        self.assertEqual(ignored.returncode, 0, 'the --random-base output must be git-ignored')

    def test_random_models_never_go_into_model_repository(self):
        for flag in ('--random-base', '--random-tiny'):
            proc = self.blip(flag, '--repo', str(PROJECT / 'model_repository'))
            self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
            self.assertIn('never go into the served model_repository/', proc.stderr)

    def test_random_tiny_end_to_end(self):
        """export_blip.py --random-tiny: transformers' generate() (greedy and 3 beams, with and
        without a prompt) against the gateway's loop over the exported wrappers in PyTorch, then
        (check-gateway-captions.ts, run by the exporter) against a real gateway on the embedded
        model server over the exported ONNX, by token ids and over HTTP; then the same against the
        real tritonserver; and a tampered expectation must fail the check."""
        repo, parity = self.tmp / 'tiny', self.tmp / 'tiny-parity'
        start = time.time()
        proc = self.blip('--random-tiny', '--repo', str(repo))
        print(f'\n  --random-tiny export and checks: {time.time() - start:.1f} s', file=sys.stderr)
        self.assertEqual(proc.returncode, 0, proc.stdout[-6000:] + proc.stderr[-4000:])
        self.assertIn('caption parity passed: 4/4 greedy captions identical', proc.stdout)
        self.assertRegex(proc.stdout, r'ok   caption_decoder\.logits')
        self.assertIn('gateway captions: 16/16 identical to transformers', proc.stdout)
        self.assertIn('the embedded model server', proc.stdout)
        io = onnx_io(repo / 'caption_decoder' / '1' / 'model.onnx')
        self.assertEqual(io['outputs'], {'logits': ['batch', 30524]})
        captions = json.loads((parity / 'caption_generation.json').read_text())['captions']
        # What the comparison covers: both strategies, both prompt kinds, both ways a caption ends.
        self.assertEqual({(c['num_beams'], bool(c['prompt'])) for c in captions}, {(1, False), (1, True), (3, False), (3, True)})
        self.assertEqual({c['transformers_finish'] for c in captions}, {'eos', 'length'})

        check = ['npx', 'tsx', str(EXPORT / 'check-gateway-captions.ts'), '--repo', str(repo), '--parity', str(parity)]
        start = time.time()
        proc = run(check + ['--triton'])
        print(f'  the same captions on tritonserver: {time.time() - start:.1f} s', file=sys.stderr)
        self.assertEqual(proc.returncode, 0, proc.stdout[-6000:] + proc.stderr[-4000:])
        self.assertIn('gateway captions: 16/16 identical to transformers', proc.stdout)
        self.assertIn('tritonserver 2.51', proc.stdout)

        # One token of one beam-search caption changed: the check must name it and exit 1.
        doc = json.loads((parity / 'caption_generation.json').read_text())
        k = next(i for i, c in enumerate(doc['captions']) if c['num_beams'] == 3)
        doc['captions'][k]['transformers_ids'][1] += 1
        (parity / 'caption_generation.json').write_text(json.dumps(doc))
        proc = run(check)
        self.assertEqual(proc.returncode, 1, proc.stdout[-6000:] + proc.stderr[-4000:])
        self.assertEqual(len(re.findall(r'^FAIL gateway ids ', proc.stdout, re.M)), 1, proc.stdout)
        self.assertIn('gateway captions: 15/16 identical', proc.stdout)


    def test_caption_options_match_transformers(self):
        """Every caption option the gateway takes from transformers' generate() (num_beams,
        max_new_tokens, min_new_tokens, repetition_penalty, alone and with beams) must give
        transformers' own answer on the exported random-tiny BLIP, by token ids and over HTTP, on
        the embedded server and on tritonserver; tests/hf_option_captions.py writes the expected
        answers with transformers, and each option must have changed some of them (so a gateway
        ignoring it could not pass)."""
        repo, parity = self.tmp / 'options', self.tmp / 'options-parity'
        proc = self.blip('--random-tiny', '--repo', str(repo))
        self.assertEqual(proc.returncode, 0, proc.stdout[-6000:] + proc.stderr[-4000:])
        proc = run([sys.executable, str(HERE / 'hf_option_captions.py'), '--repo', str(repo), '--parity', str(parity)])
        self.assertEqual(proc.returncode, 0, proc.stdout[-6000:] + proc.stderr[-4000:])
        captions = json.loads((parity / 'caption_options.json').read_text())['captions']
        options = {'num_beams', 'max_new_tokens', 'min_new_tokens', 'repetition_penalty'}
        self.assertEqual({c['option'] for c in captions}, options)
        for option in options:
            self.assertTrue(any(c['changed'] for c in captions if c['option'] == option), f'{option} changed no answer of transformers')
        self.assertTrue(any(c['changed'] and c['num_beams'] > 1 for c in captions if c['option'] == 'repetition_penalty'),
                        'the penalty must change some beam search, where processing it before or after log-softmax differs')
        n = len(captions)
        check = ['npx', 'tsx', str(EXPORT / 'check-gateway-captions.ts'), '--repo', str(repo), '--parity', str(parity), '--generation', 'caption_options.json']
        for extra, server in (([], 'the embedded model server'), (['--triton'], 'tritonserver 2.51')):
            proc = run(check + extra)
            self.assertEqual(proc.returncode, 0, proc.stdout[-6000:] + proc.stderr[-4000:])
            self.assertIn(f'gateway captions: {2 * n}/{2 * n} identical to transformers', proc.stdout)
            self.assertIn(server, proc.stdout)

        # The options must reach the gateway: one penalised beam search whose penalty changed
        # transformers' answer, replayed without its penalty, must fail both ways.
        doc = json.loads((parity / 'caption_options.json').read_text())
        k = next(i for i, c in enumerate(doc['captions']) if c['option'] == 'repetition_penalty' and c['changed'] and c['num_beams'] > 1)
        del doc['captions'][k]['repetition_penalty']
        (parity / 'caption_options.json').write_text(json.dumps(doc))
        proc = run(check)
        self.assertEqual(proc.returncode, 1, proc.stdout[-6000:] + proc.stderr[-4000:])
        self.assertEqual(len(re.findall(r'^FAIL gateway ', proc.stdout, re.M)), 2, proc.stdout)

if __name__ == '__main__':
    unittest.main()
