"""The demo's cached decoder (model_repository/caption_decoder_cached, written by
model-tools/python/cached_demo_decoder.py) against the committed stateless caption_decoder:
the weights rebuilt from the stateless ONNX give its logits; every step of the cached ONNX gives
the stateless decoder's processed top-k; greedy captions through generate_cached equal the
stateless loop's; and the CLI writes exactly the committed file. Beam search, penalties and
prompts against the stateless decoder run end to end in gateway/test/cached-decoder.test.ts.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parents[2]
REPO = PROJECT / 'model_repository'
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(PROJECT / 'model-tools' / 'python'))

import cached_step as cs  # noqa: E402
import cached_demo_decoder as cdd  # noqa: E402

EOS, BOS, L = 3, 5, 32


def session(path: Path):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=['CPUExecutionProvider'])


class DemoCachedDecoderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import torch
        torch.set_num_threads(1)
        cls.stateless = session(REPO / 'caption_decoder' / '1' / 'model.onnx')
        cls.cached = session(REPO / 'caption_decoder_cached' / '1' / 'model.onnx')
        encoder = session(REPO / 'caption_encoder' / '1' / 'model.onnx')
        # Pixel values in the encoder's normalised range: the embeddings of real-looking inputs.
        rng = np.random.default_rng(7)
        pixels = rng.uniform(-1.8, 2.2, (4, 3, 64, 64)).astype(np.float32)
        cls.embeds = encoder.run(['image_embeds'], {'pixel_values': pixels})[0]

    def stateless_logits(self, sequences: list[list[int]], embeds: np.ndarray) -> np.ndarray:
        ids = np.zeros((len(sequences), L), np.int64)
        mask = np.zeros((len(sequences), L), np.int64)
        for i, s in enumerate(sequences):
            ids[i, :len(s)] = s
            mask[i, :len(s)] = 1
        return self.stateless.run(['logits'], {'input_ids': ids, 'attention_mask': mask, 'image_embeds': embeds})[0]

    def test_rebuilt_decoder_gives_the_committed_logits(self):
        import torch
        from captioner import LastPositionDecoder
        decoder = cdd.decoder_from_onnx(REPO / 'caption_decoder' / '1' / 'model.onnx')
        seqs = [[BOS, 40, 41], [BOS] + list(range(10, 30)), [BOS, 7]]
        want = self.stateless_logits(seqs, self.embeds[:3])
        ids = torch.zeros(3, L, dtype=torch.int64)
        mask = torch.zeros(3, L, dtype=torch.int64)
        for i, s in enumerate(seqs):
            ids[i, :len(s)] = torch.tensor(s)
            mask[i, :len(s)] = 1
        with torch.no_grad():
            got = LastPositionDecoder(decoder)(ids, mask, torch.from_numpy(self.embeds[:3])).numpy()
        self.assertLess(np.abs(got - want).max(), 1e-4)
        # Wrong head count: the same weights give other logits, so the check above can fail.
        with torch.no_grad():
            other = LastPositionDecoder(cdd.decoder_from_onnx(REPO / 'caption_decoder' / '1' / 'model.onnx', heads=2))(
                ids, mask, torch.from_numpy(self.embeds[:3])).numpy()
        self.assertGreater(np.abs(other - want).max(), 1e-2)

    def test_each_cached_step_gives_the_stateless_top_k(self):
        """Greedy steps of two captions at once, with a repetition penalty and eos suppressed on
        the first steps: the cached step's top ids and scores are the stateless logits',
        processed as transformers does (penalty on every token so far, then eos at -inf)."""
        import torch
        penalty = 1.3
        image = self.embeds[:2]
        seqs = [[BOS], [BOS, 30, 31]]
        # The START step takes each caption's whole prefix; batch only equal lengths (one per call).
        states = []
        for b, s in enumerate(seqs):
            feed = {'input_ids': np.array([[s]], np.int64), 'beam_idx': np.zeros((1, 1), np.int64), 'image_embeds': image[b:b + 1],
                    'repetition_penalty': np.array([[penalty]], np.float32), 'suppress_eos': np.array([[1]], np.int64),
                    'normalize_scores': np.array([[0]], np.int64), 'START': np.ones((1, 1), np.float32),
                    'past_image': np.zeros((1, 65, 64), np.float32), 'past_kv': np.zeros((1, 1, 2, 2, L, 64), np.float32),
                    'past_length': np.zeros((1, 1), np.int64), 'past_tokens': np.zeros((1, 1, L), np.int64)}
            states.append(dict(zip(cs.OUTPUTS, self.cached.run(cs.OUTPUTS, feed))))
        for step in range(8):
            logits = torch.from_numpy(self.stateless_logits(seqs, image))
            for b, s in enumerate(seqs):
                out = states[b]
                want_ids, want_scores, want_norm = cs.process_and_top_k(
                    logits[b:b + 1].unsqueeze(1), torch.tensor([[s + [0] * (L - len(s))]]), torch.tensor([[len(s)]]),
                    torch.tensor([[penalty]]), torch.tensor([[int(step < 3)]]), torch.tensor([[0]]), EOS, 16)
                self.assertEqual(out['top_ids'].tolist(), want_ids.tolist(), f'caption {b} step {step}')
                self.assertLess(np.abs(out['top_scores'] - want_scores.numpy()).max(), 1e-4)
                self.assertLess(abs(float(out['log_normalizer'][0, 0]) - float(want_norm[0, 0])), 1e-4)
                s.append(int(out['top_ids'][0, 0, 0]))
            # The next step of both captions in one batch, as the sequence batcher runs it.
            feed = {'input_ids': np.array([[[s[-1]]] for s in seqs], np.int64), 'beam_idx': np.zeros((2, 1), np.int64),
                    'image_embeds': np.zeros((2, 1, 1), np.float32), 'repetition_penalty': np.full((2, 1), penalty, np.float32),
                    'suppress_eos': np.full((2, 1), int(step + 1 < 3), np.int64), 'normalize_scores': np.zeros((2, 1), np.int64),
                    'START': np.zeros((2, 1), np.float32)}
            for past, present in (('past_image', 'present_image'), ('past_kv', 'present_kv'), ('past_length', 'present_length'),
                                  ('past_tokens', 'present_tokens')):
                feed[past] = np.concatenate([st[present] for st in states])
            both = dict(zip(cs.OUTPUTS, self.cached.run(cs.OUTPUTS, feed)))
            states = [{k: v[b:b + 1] for k, v in both.items()} for b in range(2)]

    def test_greedy_captions_equal_the_stateless_loop(self):
        for b in range(len(self.embeds)):
            for prefix in ([BOS], [BOS, 40, 41, 42]):
                want, seq = [], list(prefix)
                while len(want) < 20:
                    token = int(self.stateless_logits([seq], self.embeds[b:b + 1])[0].argmax())
                    if token == EOS:
                        break
                    want.append(token)
                    seq.append(token)
                got = cs.generate_cached(self.cached, self.embeds[b], prefix, eos_id=EOS, pad_id=0, max_new_tokens=20)
                self.assertEqual(got, want, f'image {b} prefix {prefix}')

    def test_the_cli_writes_the_committed_model(self):
        with tempfile.TemporaryDirectory() as tmp:
            repo = Path(tmp)
            shutil.copytree(REPO / 'caption_decoder', repo / 'caption_decoder')
            decoder = cdd.decoder_from_onnx(repo / 'caption_decoder' / '1' / 'model.onnx')
            path = cdd.export_cached_decoder(decoder, repo, 65, cdd.stateless_parameters(repo))
            for name in ('config.pbtxt', 'tokenizer.json', 'configs/cpu.pbtxt'):
                self.assertEqual((repo / cdd.MODEL / name).read_text(), (REPO / cdd.MODEL / name).read_text(), name)
            fresh = session(path)
            feed = {'input_ids': np.array([[[BOS, 40]]], np.int64), 'beam_idx': np.zeros((1, 1), np.int64), 'image_embeds': self.embeds[:1],
                    'repetition_penalty': np.ones((1, 1), np.float32), 'suppress_eos': np.zeros((1, 1), np.int64),
                    'normalize_scores': np.ones((1, 1), np.int64), 'START': np.ones((1, 1), np.float32),
                    'past_image': np.zeros((1, 65, 64), np.float32), 'past_kv': np.zeros((1, 1, 2, 2, L, 64), np.float32),
                    'past_length': np.zeros((1, 1), np.int64), 'past_tokens': np.zeros((1, 1, L), np.int64)}
            for a, b in zip(fresh.run(cs.OUTPUTS, feed), self.cached.run(cs.OUTPUTS, feed)):
                np.testing.assert_array_equal(a, b)
        self.assertEqual(cdd.stateless_parameters(REPO)['intra_op_thread_count'], '1')


if __name__ == '__main__':
    unittest.main()
