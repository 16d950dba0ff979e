"""Unit tests of model-tools/export/triton_configs.py: the scheduling of every configs/ variant and
the food_caption ensemble's tensor mapping. Standard library only (no torch, no Node).

  bash model-tools/export/run-tests.sh   (= .venv/bin/python -m unittest discover -s model-tools/export/tests)
"""
from __future__ import annotations

import re
import shutil
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import triton_configs as trc  # noqa: E402

IMAGE = {'image_size': '384', 'resize_mode': 'squash', 'resample': 'bicubic', 'rescale_factor': '0.00392156862745098',
         'image_mean': '0.48145466,0.4578275,0.40821073', 'image_std': '0.26862954,0.26130258,0.27577711'}
GENERATION = {'tokenizer': 'tokenizer.json', 'max_length': '40', 'bos_token_id': '30522', 'eos_token_id': '102', 'pad_token_id': '0',
              'default_prompt': '', 'prompt_template': 'a photo of {label},', 'max_new_tokens': '20'}


def render_all(variant: str) -> dict[str, str]:
    return {
        'caption_encoder': trc.encoder_config('encoder header', 384, 577, 768, IMAGE, variant),
        'caption_decoder': trc.decoder_config('decoder header', 40, 577, 768, 30524, GENERATION, variant),
        'food_classifier': trc.classifier_config('classifier header', 384, 11, 1280, IMAGE, variant),
    }


def code(text: str) -> str:
    """The configuration without its comment lines."""
    return re.sub(r'(?m)^\s*#.*\n', '', text)


class VariantTest(unittest.TestCase):
    def test_cpu(self):
        for name, text in render_all('cpu').items():
            self.assertIn('kind: KIND_CPU', text, name)
            self.assertNotIn('KIND_GPU', text, name)
            self.assertNotIn('dynamic_batching', text, name)

    def test_gpu(self):
        for name, text in render_all('gpu').items():
            self.assertIn('gpus: [ 0 ]', text, name)
            self.assertNotIn('gpus: [ 1 ]', text, name)
            self.assertNotIn('dynamic_batching', text, name)

    def test_dynamic(self):
        for name, text in render_all('dynamic').items():
            self.assertIn('dynamic_batching {', text, name)
            self.assertIn('kind: KIND_GPU', text, name)
            self.assertNotIn('gpus:', code(text), name)

    def test_multi_gpu(self):
        for name, text in render_all('multi_gpu').items():
            self.assertIn('dynamic_batching {', text, name)
            self.assertIn('gpus: [ 0 ]', text, name)
            self.assertIn('gpus: [ 1 ]', text, name)

    def test_no_queue_policy(self):
        # See triton_configs.py: a queue policy stalls lone requests in tritonserver 2.51.
        for variant in ('default', 'dynamic', 'multi_gpu'):
            for name, text in render_all(variant).items():
                self.assertNotIn('queue_policy', text, name)

    def test_default_is_dynamic(self):
        self.assertEqual(render_all('default'), render_all('dynamic'))

    def test_variants_differ_only_in_scheduling(self):
        def rest(text: str) -> str:
            text = re.sub(r'(?s)dynamic_batching \{.*?\n\}\n', '', code(text))
            return re.sub(r'(?s)instance_group \[.*?\]\n(?=parameters)', '', text)

        default = render_all('default')
        for variant in trc.VARIANTS:
            for name, text in render_all(variant).items():
                self.assertEqual(rest(text), rest(default[name]), f'{name} {variant}')
                self.assertTrue(text.startswith(f'# {name.split("_")[1]} header\n'), f'{name} {variant}')

    def test_batching_per_model(self):
        configs = render_all('default')
        self.assertIn('max_queue_delay_microseconds: 0\n', configs['caption_encoder'])
        self.assertIn('max_queue_delay_microseconds: 0\n', configs['caption_decoder'])
        self.assertIn('preferred_batch_size: [ 8, 16 ]', configs['food_classifier'])

    def test_parameters_in_order(self):
        configs = render_all('cpu')
        self.assertEqual(re.findall(r'key: "(\w+)"', configs['caption_encoder']), list(IMAGE))
        self.assertEqual(re.findall(r'key: "(\w+)"', configs['caption_decoder']), list(GENERATION))
        self.assertIn('{ key: "prompt_template" value: { string_value: "a photo of {label}," } }', configs['caption_decoder'])

    def test_unknown_variant(self):
        with self.assertRaises(ValueError):
            trc.encoder_config('h', 384, 577, 768, IMAGE, 'tpu')

    def test_comment_header(self):
        self.assertEqual(trc.comment('line one\n  indented\n\nlast '), '# line one\n#   indented\n#\n# last\n')


class FoodCaptionTest(unittest.TestCase):
    def steps(self, text: str) -> dict[str, dict[str, dict[str, str]]]:
        """{model_name: {'input': {key: value}, 'output': {key: value}}} of the ensemble steps."""
        out = {}
        for block in re.findall(r'\{\s*model_name: "[^"]+".*?\n    \}', text, re.S):
            name = re.search(r'model_name: "([^"]+)"', block).group(1)
            out[name] = {kind: dict(re.findall(kind + r'_map \{ key: "([^"]+)" value: "([^"]+)" \}', block)) for kind in ('input', 'output')}
        return out

    def test_mapping(self):
        text = trc.food_caption_config(384, 11, 577, 768)
        self.assertEqual(self.steps(text), {
            'food_classifier': {'input': {'pixel_values': 'pixel_values'}, 'output': {'probabilities': 'food_probabilities'}},
            'caption_encoder': {'input': {'pixel_values': 'pixel_values'}, 'output': {'image_embeds': 'image_embeds'}},
        })
        self.assertIn('platform: "ensemble"', text)
        self.assertIn('input [ { name: "pixel_values" data_type: TYPE_FP32 dims: [ 3, 384, 384 ] } ]', text)
        self.assertIn('{ name: "food_probabilities" data_type: TYPE_FP32 dims: [ 11 ] label_filename: "labels.txt" }', text)
        self.assertIn('{ name: "image_embeds" data_type: TYPE_FP32 dims: [ 577, 768 ] }', text)


class WriteTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix='triton-configs-'))

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_write_with_variants(self):
        render = lambda variant: trc.encoder_config('h', 384, 577, 768, IMAGE, variant)  # noqa: E731
        trc.write_with_variants(self.tmp / 'caption_encoder', render)
        self.assertEqual((self.tmp / 'caption_encoder' / 'config.pbtxt').read_text(), render('default'))
        self.assertEqual(sorted(p.name for p in (self.tmp / 'caption_encoder' / 'configs').iterdir()),
                         sorted(f'{v}.pbtxt' for v in trc.VARIANTS))
        for variant in trc.VARIANTS:
            self.assertEqual((self.tmp / 'caption_encoder' / 'configs' / f'{variant}.pbtxt').read_text(), render(variant))

    def test_write_food_caption(self):
        trc.write_food_caption(self.tmp, 384, 577, 768, ['bread', 'soup', 'rice'])
        d = self.tmp / 'food_caption'
        self.assertEqual((d / 'config.pbtxt').read_text(), trc.food_caption_config(384, 3, 577, 768))
        self.assertEqual((d / 'labels.txt').read_text(), 'bread\nsoup\nrice\n')
        self.assertTrue((d / '1' / '.gitkeep').is_file())


if __name__ == '__main__':
    unittest.main()
