"""Tests of BLIP's cached decoder (model-tools/cached-decoder.md): cached_step.py's functions
against plain computations and transformers' own modules and processors; the exported ONNX step
(export_blip.export_cached on the --random-tiny model) against the uncached PyTorch decoder,
prefix then step by step; generate_cached over that ONNX against transformers' generate, token
for token; and the config.pbtxt written beside it.

  .venv/bin/python -m unittest discover -s model-tools/export/tests -p 'test_cached_blip*.py' -v
"""
from __future__ import annotations

import re
import shutil
import sys
import tempfile
import types
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXPORT = HERE.parent
sys.path.insert(0, str(EXPORT))

import torch  # noqa: E402

import cached_step as cs  # noqa: E402
import export_blip as xb  # noqa: E402
import export_common as ec  # noqa: E402
import triton_configs as trc  # noqa: E402

torch.set_num_threads(1)
NEG = float(torch.finfo(torch.float32).min)
CAP = 40            # the cache capacity = the stateless decoder's max_length, as the exporter sets it
BOS, EOS, PAD = 30522, 102, 0
PROMPT = 'a photo of bread,'
M: dict = {}        # built once per run: the tiny model, its exported cached decoder, a session


def setUpModule():
    import onnxruntime as ort
    from tokenizers import Tokenizer
    tmp = Path(tempfile.mkdtemp(prefix='cached-blip-'))
    model = xb.tiny_model(0)
    repo = tmp / 'repo'
    xb.write_tokenizer(types.SimpleNamespace(random_tiny=True, random_base=False), repo / 'caption_decoder' / 'tokenizer.json')
    generation = trc.generation_parameters(CAP, BOS, EOS, PAD, xb.PROMPT_TEMPLATE, 20)
    path = xb.export_cached(repo, model, 'test', 577, 32, CAP, generation)
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=['CPUExecutionProvider'])
    tok = Tokenizer.from_file(str(repo / 'caption_decoder' / 'tokenizer.json'))
    M.update(tmp=tmp, model=model, repo=repo, path=path, session=session, generation=generation, prompt_ids=tok.encode(PROMPT).ids)


def tearDownModule():
    shutil.rmtree(M['tmp'], ignore_errors=True)


def pictures(n: int, seed: int = 0) -> torch.Tensor:
    """transformers' pixel_values of n synthetic pictures, as export_blip.py makes them."""
    from transformers import BlipImageProcessorPil
    processor = BlipImageProcessorPil()
    ims = [xb.synthetic_photo(seed + i).resize((384, 384), 3) for i in range(n)]
    return torch.cat([processor(images=im, return_tensors='pt')['pixel_values'] for im in ims]).float()


def processed_reference(logits: torch.Tensor, ids: list[int], penalty: float, suppress: bool, normalize: bool, eos: int = EOS) -> torch.Tensor:
    """One row's scores through transformers' own processors, in generate's order."""
    from transformers.generation.logits_process import MinNewTokensLengthLogitsProcessor, RepetitionPenaltyLogitsProcessor
    scores = torch.log_softmax(logits, dim=-1) if normalize else logits.clone()
    input_ids = torch.tensor([ids])
    scores = RepetitionPenaltyLogitsProcessor(float(penalty))(input_ids, scores[None])
    if suppress:  # min_new_tokens one above what was generated
        scores = MinNewTokensLengthLogitsProcessor(0, len(ids) + 1, eos)(input_ids, scores)
    return scores[0]


class CachedStepFunctionsTest(unittest.TestCase):
    """(a) cached_step.py's tensor functions against plain computations."""

    def test_reorder_gathers_each_captions_rows(self):
        g = torch.Generator().manual_seed(1)
        past = torch.randn(2, 4, 3, 5, generator=g)
        beam_idx = torch.tensor([[3, 0, 0], [1, 2, 3]])
        want = torch.stack([torch.stack([past[b, i] for i in beam_idx[b].tolist()]) for b in range(2)])
        self.assertTrue(torch.equal(cs.reorder(past, beam_idx), want))
        # At START the state has one row (the initial state's dims), copied to every beam.
        start = torch.randn(2, 1, 6, generator=g)
        self.assertTrue(torch.equal(cs.reorder(start, torch.zeros(2, 3, dtype=torch.int64)), start.expand(2, 3, 6)))

    def test_write_cache_replaces_the_new_positions_only(self):
        g = torch.Generator().manual_seed(2)
        cache, new = torch.randn(3, 2, 7, 4, generator=g), torch.randn(3, 2, 2, 4, generator=g)
        start = torch.tensor([[0], [4], [6]])   # the last one runs past the capacity: position 7 is dropped
        want = cache.clone()
        for b, s in enumerate(start[:, 0].tolist()):
            for t in range(2):
                if s + t < 7:
                    want[b, :, s + t] = new[b, :, t]
        self.assertTrue(torch.equal(cs.write_cache(cache, new, start), want))
        tokens = torch.randint(0, 99, (3, 2, 7, 1), generator=g)
        got = cs.write_cache(tokens, torch.full((3, 2, 1, 1), 7), start)
        self.assertEqual(got.dtype, torch.int64)
        self.assertEqual(got[:, 0, :, 0].tolist(), [[7] + tokens[0, 0, 1:, 0].tolist(), tokens[1, 0, :4, 0].tolist() + [7] + tokens[1, 0, 5:, 0].tolist(),
                                                    tokens[2, 0, :6, 0].tolist() + [7]])

    def test_cache_attention_mask_is_causal_over_the_cache(self):
        start = torch.tensor([[0], [3]])
        mask = cs.cache_attention_mask(start, 2, 6, NEG)
        self.assertEqual(tuple(mask.shape), (2, 1, 2, 6))
        for b, s in enumerate([0, 3]):
            for t in range(2):
                self.assertEqual(mask[b, 0, t].tolist(), [0.0 if j <= s + t else NEG for j in range(6)])
        # The model's own negative weighs exactly 0, so the cache's unused positions change nothing.
        scores = torch.randn(2, 1, 2, 6) * 5
        weights = torch.softmax(scores + mask, dim=-1)
        self.assertTrue(torch.equal(weights[1, 0, 0, 4:], torch.zeros(2)))
        self.assertTrue(torch.allclose(weights[1, 0, 0, :4], torch.softmax(scores[1, 0, 0, :4], dim=-1), atol=1e-7))

    def test_absorbed_cross_attention_equals_blips(self):
        """Against BLIP's own cross-attention module (the tiny model's, with random biases: its
        initialisation leaves them 0, and the absorption must hold with a key bias too)."""
        import copy
        attention = copy.deepcopy(M['model'].text_decoder.bert.encoder.layer[0].crossattention.self).eval()
        g = torch.Generator().manual_seed(3)
        with torch.no_grad():
            for bias in (attention.query.bias, attention.key.bias, attention.value.bias):
                bias.copy_(torch.randn(bias.shape, generator=g))
            image = torch.randn(2, 577, 32, generator=g)
            h = torch.randn(2, 3, 2, 32, generator=g)   # [B, beams, T, D]
            want = attention(h.reshape(6, 2, 32), encoder_hidden_states=image.repeat_interleave(3, dim=0))[0].reshape(2, 3, 2, 32)
            got = cs.absorbed_cross_attention(attention.query(h), image, attention.key.weight, attention.key.bias,
                                              attention.value.weight, attention.value.bias, attention.num_attention_heads)
        self.assertEqual(got.shape, want.shape)
        self.assertLess(float((got - want).abs().max()), 1e-5)

    def test_process_and_top_k_equals_transformers_processors(self):
        g = torch.Generator().manual_seed(4)
        vocab, cap = 120, 9
        logits = torch.randn(2, 3, vocab, generator=g) * 3
        tokens = torch.randint(0, vocab, (2, 3, cap), generator=g)
        tokens[0, 0, :4] = torch.tensor([5, 5, 7, 5])   # a token present three times is penalised once; eos 7 too
        tokens[:, :, 6:] = torch.tensor([110, 111, 112])         # past `length` for caption 0: must not count
        length = torch.tensor([[6], [9]])
        penalty = torch.tensor([[1.3], [2.0]])
        suppress, normalize = torch.tensor([[1], [0]]), torch.tensor([[0], [1]])
        eos = 7
        ids, scores, norm = cs.process_and_top_k(logits, tokens, length, penalty, suppress, normalize, eos, 16)
        self.assertEqual((ids.dtype, tuple(ids.shape), tuple(scores.shape), tuple(norm.shape)), (torch.int64, (2, 3, 16), (2, 3, 16), (2, 3)))
        for b in range(2):
            for k in range(3):
                row = tokens[b, k, :int(length[b, 0])].tolist()
                want = processed_reference(logits[b, k], row, float(penalty[b, 0]), bool(suppress[b, 0]), bool(normalize[b, 0]), eos)
                top = torch.topk(want, 16)
                self.assertEqual(ids[b, k].tolist(), top.indices.tolist(), (b, k))
                self.assertTrue(torch.equal(scores[b, k], top.values), (b, k))
                self.assertTrue(torch.allclose(norm[b, k], torch.logsumexp(want, dim=-1), atol=1e-6), (b, k))
        self.assertNotIn(eos, ids[0].reshape(-1).tolist())
        penalised = processed_reference(logits[0, 1], tokens[0, 1, :6].tolist(), 1.3, False, False, eos)
        self.assertFalse(torch.equal(penalised, logits[0, 1]), 'the penalty must change the scores it is tested on')


class CachedOnnxStepTest(unittest.TestCase):
    """(b) The exported step on ONNX Runtime against the uncached PyTorch decoder."""

    @classmethod
    def setUpClass(cls):
        with torch.no_grad():
            cls.embeds = M['model'].vision_model(pixel_values=pictures(2), return_dict=False)[0]

    def run_step(self, feed: dict) -> dict:
        import cached_blip_decoder as cbd
        names = [o.name for o in M['session'].get_outputs()]
        self.assertEqual(names, cbd.OUTPUTS)
        return dict(zip(names, M['session'].run(names, {k: v.numpy() if torch.is_tensor(v) else v for k, v in feed.items()})))

    def start_feed(self, b: int, prefix: list[int], beams: int, settings: tuple, garbage: bool = False) -> dict:
        import cached_blip_decoder as cbd
        layers = len(M['model'].text_decoder.bert.encoder.layer)
        penalty, suppress, normalize = settings
        state = {'past_image': torch.zeros(1, 577, 32), 'past_kv': torch.zeros(1, 1, layers, 2, CAP, 32),
                 'past_length': torch.zeros(1, 1, dtype=torch.int64), 'past_tokens': torch.zeros(1, 1, CAP, dtype=torch.int64)}
        if garbage:  # a START must ignore the state it is given
            g = torch.Generator().manual_seed(5)
            state = {'past_image': torch.randn(1, 577, 32, generator=g), 'past_kv': torch.randn(1, 2, layers, 2, CAP, 32, generator=g),
                     'past_length': torch.tensor([[7]]), 'past_tokens': torch.randint(0, 999, (1, 2, CAP), generator=g)}
        feed = {'input_ids': torch.tensor(prefix).expand(1, beams, len(prefix)), 'beam_idx': torch.zeros(1, beams, dtype=torch.int64),
                'image_embeds': self.embeds[b:b + 1], 'repetition_penalty': torch.tensor([[penalty]]),
                'suppress_eos': torch.tensor([[suppress]]), 'normalize_scores': torch.tensor([[normalize]]), 'START': torch.ones(1, 1), **state}
        self.assertEqual(list(feed), cbd.INPUTS)
        return feed

    def reference(self, b: int, seqs: list[list[int]], settings: tuple):
        """transformers' decoder over each whole sequence (no cache), its last logits processed."""
        penalty, suppress, normalize = settings
        with torch.no_grad():
            logits = M['model'].text_decoder(input_ids=torch.tensor(seqs), encoder_hidden_states=self.embeds[b:b + 1].expand(len(seqs), -1, -1),
                                             use_cache=False).logits[:, -1]
        return [processed_reference(logits[k], seqs[k], penalty, bool(suppress), bool(normalize)) for k in range(len(seqs))]

    def check(self, out: dict, row: int, b: int, seqs: list[list[int]], settings: tuple, label: str) -> float:
        worst = 0.0
        for k, want in enumerate(self.reference(b, seqs, settings)):
            top = torch.topk(want, 16)
            self.assertEqual(out['top_ids'][row, k].tolist(), top.indices.tolist(), f'{label} beam {k}')
            worst = max(worst, float(abs(out['top_scores'][row, k] - top.values.numpy()).max()),
                        float(abs(out['log_normalizer'][row, k] - float(torch.logsumexp(want, -1)))))
            self.assertEqual(out['present_tokens'][row, k, :len(seqs[k])].tolist(), seqs[k], label)
        self.assertEqual(int(out['present_length'][row, 0]), len(seqs[0]), label)
        self.assertLess(worst, 1e-4, label)
        return worst

    def test_prefix_then_steps_equal_the_uncached_decoder(self):
        """Two captions of different prefix lengths start alone (their T differ), then step
        together in one batch (their states concatenated, as Triton batches them), two beams each,
        beams swapped and duplicated by beam_idx; each against the decoder over the whole sequence."""
        import numpy as np
        prefixes = [[BOS], [BOS] + M['prompt_ids'][1:-1]]
        settings = [(1.3, 1, 0), (2.0, 0, 1)]      # (penalty, suppress_eos, normalize_scores)
        seqs = [[list(p), list(p)] for p in prefixes]
        outs = []
        for b in range(2):
            out = self.run_step(self.start_feed(b, prefixes[b], 2, settings[b]))
            self.check(out, 0, b, seqs[b], settings[b], f'caption {b} START')
            garbage = self.run_step(self.start_feed(b, prefixes[b], 2, settings[b], garbage=True))
            for name in out:
                self.assertTrue(np.array_equal(out[name], garbage[name]), f'START used the given {name}')
            outs.append(out)
        state = {p: np.concatenate([o[p.replace('past_', 'present_')] for o in outs]) for p in ('past_image', 'past_kv', 'past_length', 'past_tokens')}
        top = np.concatenate([o['top_ids'] for o in outs])
        worst = 0.0
        for n, beam_idx in enumerate([[[0, 0], [0, 0]], [[1, 0], [0, 1]], [[1, 1], [1, 0]], [[0, 1], [1, 1]], [[1, 0], [0, 0]]]):
            # Beam k continues row beam_idx[k] with that row's (k+1)-th best token.
            ids = [[int(top[b, i, k]) for k, i in enumerate(beam_idx[b])] for b in range(2)]
            seqs = [[seqs[b][i] + [ids[b][k]] for k, i in enumerate(beam_idx[b])] for b in range(2)]
            feed = {'input_ids': np.array(ids, np.int64)[:, :, None], 'beam_idx': np.array(beam_idx, np.int64),
                    'image_embeds': np.zeros((2, 1, 1), np.float32), 'repetition_penalty': np.array([[1.3], [2.0]], np.float32),
                    'suppress_eos': np.array([[1], [0]], np.int64), 'normalize_scores': np.array([[0], [1]], np.int64),
                    'START': np.zeros((2, 1), np.float32), **state}
            out = self.run_step(feed)
            for b in range(2):
                worst = max(worst, self.check(out, b, b, seqs[b], settings[b], f'step {n + 1} caption {b}'))
            self.assertTrue(np.array_equal(out['present_image'], state['past_image']))
            state = {p: out[p.replace('past_', 'present_')] for p in state}
            top = out['top_ids']
        print(f'\n  cached ONNX step vs uncached PyTorch decoder: max |diff| {worst:.3g} over 6 steps', file=sys.stderr)

    def test_graph_io_is_the_contracts(self):
        import onnx
        import cached_blip_decoder as cbd
        graph = onnx.load(str(M['path'])).graph
        inits = {i.name for i in graph.initializer}
        self.assertEqual([i.name for i in graph.input if i.name not in inits], cbd.INPUTS)
        self.assertEqual([o.name for o in graph.output], cbd.OUTPUTS)
        io = ec.onnx_io(M['path'])
        self.assertEqual(io['inputs']['past_kv'], ['batch', 'past_beams', 2, 2, CAP, 32])
        self.assertEqual(io['inputs']['input_ids'], ['batch', 'beams', 'new_tokens'])
        self.assertEqual(io['outputs']['top_ids'], ['batch', 'beams', 16])
        self.assertEqual(io['outputs']['present_image'], ['batch', 577, 32])


class GenerateCachedTest(unittest.TestCase):
    """(c) generate_cached over the exported ONNX against transformers' generate."""

    @classmethod
    def setUpClass(cls):
        cls.pixels = pictures(2)
        with torch.no_grad():
            cls.embeds = M['model'].vision_model(pixel_values=cls.pixels, return_dict=False)[0]

    def transformers_new_tokens(self, i: int, prompt_ids: list[int], **options) -> tuple[list[int], bool]:
        kwargs = dict(do_sample=False, length_penalty=1.0, early_stopping=False, no_repeat_ngram_size=0, num_return_sequences=1, **options)
        if prompt_ids:
            ids = torch.tensor([prompt_ids])
            kwargs.update(input_ids=ids, attention_mask=torch.ones_like(ids))
        with torch.no_grad():
            hf = M['model'].generate(pixel_values=self.pixels[i:i + 1], **kwargs)[0].tolist()
        prefix = len(xb.gateway_prefix(prompt_ids, BOS)) if prompt_ids else 1
        ended = hf[-1] == EOS and len(hf) > prefix
        return hf[prefix:len(hf) - ended], ended

    def test_equals_blip_generate(self):
        """Greedy and 3 beams, with and without the prompt, repetition_penalty 1 / 1.3 / 2.0,
        min_new_tokens 0 / 5: BlipForConditionalGeneration.generate's tokens, every one."""
        failures, answers, finishes = [], {}, set()
        for i in range(2):
            for prompt_ids in ([], M['prompt_ids']):
                prefix = xb.gateway_prefix(prompt_ids, BOS) if prompt_ids else [BOS]
                for beams in (1, 3):
                    for penalty in (1.0, 1.3, 2.0):
                        for min_new in (0, 5):
                            budget = xb.HF_MAX_LENGTH - len(prefix)
                            want, ended = self.transformers_new_tokens(i, prompt_ids, max_new_tokens=budget, num_beams=beams,
                                                                       repetition_penalty=penalty, min_new_tokens=min_new)
                            got = cs.generate_cached(M['session'], self.embeds[i].numpy(), prefix, eos_id=EOS, pad_id=PAD, max_new_tokens=budget,
                                                     num_beams=beams, min_new_tokens=min_new, repetition_penalty=penalty)
                            case = (i, bool(prompt_ids), beams, penalty, min_new)
                            answers[case] = want
                            finishes.add(ended)
                            if got != want:
                                failures.append(f'{case}: transformers {want}, cached {got}')
        self.assertEqual(failures, [])
        # What the comparison covers: both ways a caption ends, and options that change answers.
        self.assertEqual(finishes, {True, False})
        for beams in (1, 3):
            keys = [k for k in answers if k[2] == beams and k[3] == 1.0 and k[4] == 0]
            self.assertTrue(any(answers[k[:3] + (2.0, 0)] != answers[k] for k in keys), f'penalty changed no answer, beams {beams}')
            self.assertTrue(any(answers[k[:3] + (1.0, 5)] != answers[k] for k in keys), f'min_new_tokens changed no answer, beams {beams}')
        self.assertTrue(any(answers[k[:2] + (3, 1.0, 0)] != answers[k] for k in answers if k[2:] == (1, 1.0, 0)), 'beams changed no answer')

    def test_beam_options_equal_transformers(self):
        """2, 4 and 8 beams, length penalties and early_stopping True / False / "never", short
        budgets (captions cut by length), against the text decoder's generate on the same
        image embeddings."""
        model = M['model']
        failures = []
        for i in range(2):
            for prefix in ([BOS], [BOS] + M['prompt_ids'][1:-1]):
                for beams, lp, es, budget in ((2, 1.0, False, 12), (4, 0.5, True, 12), (8, 1.0, 'never', 12), (3, 2.0, 'never', 8),
                                              (3, -1.0, False, 10), (3, 1.0, True, 3), (1, 1.0, False, 2)):
                    with torch.no_grad():
                        hf = model.text_decoder.generate(
                            input_ids=torch.tensor([prefix]), eos_token_id=EOS, pad_token_id=PAD, encoder_hidden_states=self.embeds[i:i + 1],
                            encoder_attention_mask=torch.ones(1, 577, dtype=torch.long), max_new_tokens=budget, num_beams=beams,
                            do_sample=False, length_penalty=lp, early_stopping=es)[0].tolist()
                    ended = hf[-1] == EOS and len(hf) > len(prefix)
                    want = hf[len(prefix):len(hf) - ended]
                    got = cs.generate_cached(M['session'], self.embeds[i].numpy(), prefix, eos_id=EOS, pad_id=PAD, max_new_tokens=budget,
                                             num_beams=beams, length_penalty=lp, early_stopping=es)
                    if got != want:
                        failures.append(f'{(i, len(prefix), beams, lp, es, budget)}: transformers {want}, cached {got}')
        self.assertEqual(failures, [])

    def test_refuses_what_it_cannot_do_exactly(self):
        with self.assertRaisesRegex(ValueError, 'K/2'):
            cs.generate_cached(M['session'], self.embeds[0].numpy(), [BOS], eos_id=EOS, pad_id=PAD, max_new_tokens=5, num_beams=9)
        with self.assertRaisesRegex(ValueError, 'do not fit'):
            cs.generate_cached(M['session'], self.embeds[0].numpy(), [BOS] * 5, eos_id=EOS, pad_id=PAD, max_new_tokens=CAP)
        self.assertEqual(cs.generate_cached(M['session'], self.embeds[0].numpy(), [BOS], eos_id=EOS, pad_id=PAD, max_new_tokens=0), [])


class CachedConfigTest(unittest.TestCase):
    """(d) caption_decoder_cached/config.pbtxt as export_blip.export_cached writes it."""

    def test_config_matches_the_graph(self):
        import cached_blip_decoder as cbd
        model_dir = M['repo'] / 'caption_decoder_cached'
        text = (model_dir / 'config.pbtxt').read_text()
        body = re.sub(r'(?m)^#.*\n', '', text)
        self.assertIn('# BLIP text decoder with its state kept by the server', text)
        self.assertIn('name: "caption_decoder_cached"\nbackend: "onnxruntime"\nmax_batch_size: 64\n', body)
        tensors = re.findall(r'\{ name: "(\w+)" data_type: (\w+) dims: \[ ([^\]]*) \] \}', body)
        self.assertEqual(tensors, [
            ('input_ids', 'TYPE_INT64', '-1, -1'), ('beam_idx', 'TYPE_INT64', '-1'), ('image_embeds', 'TYPE_FP32', '-1, -1'),
            ('repetition_penalty', 'TYPE_FP32', '1'), ('suppress_eos', 'TYPE_INT64', '1'), ('normalize_scores', 'TYPE_INT64', '1'),
            ('top_ids', 'TYPE_INT64', '-1, 16'), ('top_scores', 'TYPE_FP32', '-1, 16'), ('log_normalizer', 'TYPE_FP32', '-1'),
        ])
        self.assertIn('control_input [ { name: "START" control [ { kind: CONTROL_SEQUENCE_START fp32_false_true: [ 0, 1 ] } ] } ]', body)
        states = re.findall(r'input_name: "(\w+)" output_name: "(\w+)" data_type: (\w+) dims: \[ ([^\]]*) \]\s*'
                            r'initial_state \{ name: "zero" data_type: \3 dims: \[ ([^\]]*) \] zero_data: true \}', body)
        self.assertEqual(states, [
            ('past_image', 'present_image', 'TYPE_FP32', '577, 32', '577, 32'),
            ('past_kv', 'present_kv', 'TYPE_FP32', f'-1, 2, 2, {CAP}, 32', f'1, 2, 2, {CAP}, 32'),
            ('past_length', 'present_length', 'TYPE_INT64', '1', '1'),
            ('past_tokens', 'present_tokens', 'TYPE_INT64', f'-1, {CAP}', f'1, {CAP}'),
        ])
        # The graph: the config's inputs, START, then the states (paired by sorted name, as
        # Triton pairs them), with the config's dims after the batch dimension.
        config_inputs = [n for n, _, _ in tensors[:6]]
        self.assertEqual(cbd.INPUTS, config_inputs + ['START'] + [s[0] for s in states])
        self.assertEqual(cbd.OUTPUTS, [n for n, _, _ in tensors[6:]] + [s[1] for s in states])
        self.assertEqual([s[:2] for s in states], list(zip(sorted(s[0] for s in states), sorted(s[1] for s in states))))
        io = ec.onnx_io(M['path'])
        for past, present, _, dims, _ in states:
            want = [-1 if d == '-1' else int(d) for d in dims.split(', ')]
            for got in (io['inputs'][past][1:], io['outputs'][present][1:]):
                self.assertEqual([-1 if isinstance(d, str) else d for d in got], want, past)
        for name, _, dims in tensors:
            got = (io['inputs'] | io['outputs'])[name][1:]
            self.assertEqual([-1 if isinstance(d, str) else d for d in got], [int(d) for d in dims.split(', ')], name)
        # The stateless decoder's generation parameters, and its tokenizer beside the model.
        self.assertEqual(ec.read_pbtxt_parameters(model_dir / 'config.pbtxt'), M['generation'])
        self.assertEqual((model_dir / 'tokenizer.json').read_bytes(), (M['repo'] / 'caption_decoder' / 'tokenizer.json').read_bytes())
        for variant in trc.VARIANTS:
            path = model_dir / 'configs' / f'{variant}.pbtxt'
            self.assertEqual(ec.read_pbtxt_parameters(path), M['generation'], variant)
            self.assertIn('sequence_batching {', path.read_text(), variant)
        self.assertIn('instance_group [ { kind: KIND_CPU count: 1 } ]', (model_dir / 'configs' / 'cpu.pbtxt').read_text())


if __name__ == '__main__':
    unittest.main()
