"""The demo captioner's text decoder as one cached step: `caption_decoder_cached`
(model-tools/cached-decoder.md is the contract; model-tools/export/cached_step.py has the pieces
it shares with BLIP's, cached_blip_decoder.py).

  CachedDemoStep(decoder, top_k=16)    an nn.Module over a TextDecoder's own modules; forward takes
      the contract's ONNX inputs in order and returns its outputs in order.
  decoder_from_onnx(path)              the TextDecoder whose stateless export is `path`: no torch
      checkpoint of the demo models is committed, so the weights come back from the ONNX file.
  export_cached_decoder(decoder, repo) writes repo/caption_decoder_cached/ (model.onnx, config.pbtxt
      and configs/, tokenizer.json copied from caption_decoder/) and checks the export.

  .venv/bin/python model-tools/python/cached_demo_decoder.py --repo model_repository

Per step, for T new tokens per beam at positions L0 .. L0+T-1: token + learned position
embeddings; each pre-LN layer: causal self-attention over the cache (keys and values written at
the new positions, -1e4 on the rest as the stateless decoder masks its padding, so those weights
are exactly 0), cross-attention to the image with the keys and values absorbed, the MLP; the final
LayerNorm and the head on the last new position; transformers' processors and the top K.
"""
from __future__ import annotations

import argparse
import math
import re
import shutil
import sys
from pathlib import Path

import torch
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[0] / 'export'))
import cached_step as cs  # noqa: E402
import triton_configs  # noqa: E402
from captioner import CaptionerConfig, TextDecoder  # noqa: E402
from tokenizer import SEP  # noqa: E402

# The stateless decoder's masking value (captioner.TextDecoder.hidden_states).
NEG = -1e4
MODEL = 'caption_decoder_cached'
HEADER = ('Demo cached text decoder (model-tools/cached-decoder.md): one caption is one sequence whose keys,\n'
          'values, image and tokens the server keeps (sequence batching with implicit state), so a step\n'
          'carries one token per beam and returns each beam\'s 16 best tokens after the processors.\n'
          'Written by model-tools/python/cached_demo_decoder.py from caption_decoder\'s weights.')


class CachedDemoStep(nn.Module):
    def __init__(self, decoder: TextDecoder, top_k: int = cs.TOP_K):
        super().__init__()
        self.decoder = decoder
        self.cap = decoder.pos.shape[1]
        self.heads = decoder.layers[0].self_attn.heads
        self.top_k = top_k

    def forward(self, input_ids, beam_idx, image_embeds, repetition_penalty, suppress_eos, normalize_scores, start,
                past_image, past_kv, past_length, past_tokens):
        d = self.decoder
        keep = 1.0 - start                                                   # [B, 1]
        keep_i = keep.to(torch.int64)
        # The state after reorder; at START Triton resets it and the graph ignores it.
        kv = cs.reorder(past_kv, beam_idx) * keep[:, :, None, None, None, None]
        tokens = cs.reorder(past_tokens, beam_idx) * keep_i[:, :, None]
        length = past_length * keep_i                                        # L0 [B, 1]
        image = past_image * keep[:, :, None] + image_embeds * start[:, :, None]
        t = input_ids.shape[2]
        tokens = cs.write_cache(tokens.unsqueeze(-1), input_ids.unsqueeze(-1), length).squeeze(-1)
        present_length = length + t

        positions = length + torch.arange(t, dtype=torch.int64, device=input_ids.device).unsqueeze(0)   # [B, T]
        x = d.tokens(input_ids) + d.pos[0][positions].unsqueeze(1)                                     # [B, beams, T, D]
        mask = cs.cache_attention_mask(length, t, self.cap, NEG).unsqueeze(1)                          # [B, 1, 1, T, cap]
        caches = []
        for layer in d.layers:
            x, layer_kv = self.layer(layer, x, kv[:, :, len(caches)], length, mask, image)
            caches.append(layer_kv)
        last = d.norm(x)[:, :, -1]
        logits = d.head(last.reshape(-1, last.shape[-1])).reshape(last.shape[:2] + (-1,))             # [B, beams, V]
        top_ids, top_scores, log_normalizer = cs.process_and_top_k(
            logits, tokens, present_length, repetition_penalty, suppress_eos, normalize_scores, SEP, self.top_k)
        return top_ids, top_scores, log_normalizer, image, torch.stack(caches, dim=2), present_length, tokens

    def layer(self, layer: nn.Module, x, kv, length, mask, image):
        """One DecoderLayer; kv [B, beams, 2, cap, D] -> (x, the layer's updated kv)."""
        b, beams, t, d = x.shape
        sa = layer.self_attn
        h = layer.norm1(x)
        k = cs.write_cache(kv[:, :, 0], sa.k(h), length)
        v = cs.write_cache(kv[:, :, 1], sa.v(h), length)

        def split(y):  # [B, beams, L, D] -> [B, beams, H, L, dh]
            return y.reshape(b, beams, -1, sa.heads, sa.head_dim).transpose(2, 3)

        scores = split(sa.q(h)) @ split(k).transpose(-1, -2) / math.sqrt(sa.head_dim) + mask
        x = x + sa.out((scores.softmax(dim=-1) @ split(v)).transpose(2, 3).reshape(b, beams, t, d))
        ca = layer.cross_attn
        ctx = cs.absorbed_cross_attention(ca.q(layer.norm2(x)), image, ca.k.weight, ca.k.bias, ca.v.weight, ca.v.bias, ca.heads)
        x = x + ca.out(ctx)
        x = x + layer.mlp(layer.norm3(x))
        return x, torch.stack([k, v], dim=2)


def decoder_from_onnx(path: Path, heads: int = CaptionerConfig.heads) -> TextDecoder:
    """Rebuilds the TextDecoder exported to `path` (LastPositionDecoder, train_captioner.export).
    Parameters torch.onnx kept under their names are loaded as they are; every Linear weight was
    folded into its MatMul as weightᵀ under a generated name, so those are found through the
    MatMul node that uses them, whose name is the module's path (/layers.0/self_attn/q/MatMul).
    `heads` is not in the weights; test_demo_cached_decoder checks the rebuilt logits."""
    import onnx
    from onnx import numpy_helper
    model = onnx.load(str(path))
    arrays = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    state = {name.removeprefix('decoder.'): torch.from_numpy(a.copy()) for name, a in arrays.items() if name.startswith('decoder.')}
    for node in model.graph.node:
        weight = next((i for i in node.input if i in arrays and not i.startswith('decoder.')), None)
        if node.op_type == 'MatMul' and weight is not None:
            module = node.name.strip('/').removesuffix('/MatMul').replace('/mlp/mlp.', '/mlp.').replace('/', '.')
            state[f'{module}.weight'] = torch.from_numpy(arrays[weight].T.copy())
    vocab, hidden = state['tokens.weight'].shape
    config = CaptionerConfig(hidden=hidden, heads=heads, vocab_size=vocab, max_length=state['pos'].shape[1],
                             decoder_layers=1 + max(int(k.split('.')[1]) for k in state if k.startswith('layers.')),
                             mlp=state['layers.0.mlp.0.bias'].shape[0])
    decoder = TextDecoder(config)
    decoder.load_state_dict(state, strict=True)
    return decoder.eval()


def export_cached_decoder(decoder: TextDecoder, repo: Path, image_tokens: int, generation_params: dict[str, str]) -> Path:
    """Writes repo/caption_decoder_cached/ and returns its model.onnx path."""
    step = CachedDemoStep(decoder).eval()
    layers, hidden = len(decoder.layers), decoder.pos.shape[2]
    g = torch.Generator().manual_seed(0)
    # A non-START step of 2 captions x 3 beams x 2 new tokens over 4 past beams: no size is 1 and
    # none equals another where the tracer could freeze it.
    b, beams, past_beams, t, vocab = 2, 3, 4, 2, decoder.tokens.num_embeddings
    args = (
        torch.randint(4, vocab, (b, beams, t), generator=g), torch.tensor([[0, 3, 1], [2, 2, 0]]),
        torch.zeros(b, 1, 1), torch.full((b, 1), 1.3), torch.tensor([[1], [0]]), torch.tensor([[1], [0]]),
        torch.zeros(b, 1), torch.randn(b, image_tokens, hidden, generator=g),
        torch.randn(b, past_beams, layers, 2, step.cap, hidden, generator=g), torch.tensor([[3], [5]]),
        torch.randint(4, vocab, (b, past_beams, step.cap), generator=g),
    )
    path = repo / MODEL / '1' / 'model.onnx'
    cs.export_step(step, args, path, cs.contract_shapes(layers, hidden, step.cap, step.top_k, image_tokens, hidden))
    triton_configs.write_cached_decoder(repo, HEADER, step.cap, image_tokens, hidden, layers, generation_params)
    shutil.copyfile(repo / 'caption_decoder' / 'tokenizer.json', repo / MODEL / 'tokenizer.json')
    return path


def stateless_parameters(repo: Path) -> dict[str, str]:
    """caption_decoder's parameters (the cached decoder generates with the same ones)."""
    text = (repo / 'caption_decoder' / 'config.pbtxt').read_text()
    return dict(re.findall(r'\{ key: "([^"]+)" value: \{ string_value: "([^"]*)" \} \}', text))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--repo', type=Path, required=True, help='the model repository with caption_decoder/ (written beside it)')
    args = ap.parse_args()
    torch.set_num_threads(1)
    decoder = decoder_from_onnx(args.repo / 'caption_decoder' / '1' / 'model.onnx')
    config = (args.repo / 'caption_decoder' / 'config.pbtxt').read_text()
    image_tokens = int(re.search(r'name: "image_embeds" data_type: TYPE_FP32 dims: \[ (\d+),', config).group(1))
    path = export_cached_decoder(decoder, args.repo, image_tokens, stateless_parameters(args.repo))
    print(f'wrote {path} ({path.stat().st_size / 1024:.0f} KB)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
