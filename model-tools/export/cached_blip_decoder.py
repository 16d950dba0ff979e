"""BLIP's text decoder as one cached step (model-tools/cached-decoder.md, `caption_decoder_cached`).

  CachedBlipStep(text_decoder, cap, top_k=16)     an nn.Module over a BlipTextLMHeadModel's own
      weights (its modules are reused, not copied); forward takes the contract's ONNX inputs in
      order and returns its outputs in order (INPUTS, OUTPUTS below).
  export_cached_decoder(step, path, image_tokens, opset=17)
      traces it with torch.onnx.export (TorchScript exporter; B, beams, T and the image
      placeholder's dims dynamic), declares the fixed dims, checks the file with onnx.checker.

Per step, for T new tokens per beam at positions L0 .. L0+T-1 (L0 = past_length, 0 at START):
word + absolute position embeddings -> LayerNorm; each BERT-style post-LN layer: causal
self-attention over the cache (keys/values written at the new positions), cross-attention to the
image with the keys/values absorbed (cached_step.absorbed_cross_attention; the image needs no
mask: BLIP's image mask is all ones), FFN; the LM head (cls.predictions: transform, decoder +
bias) on the last new position; transformers' processors and the top K.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cached_step as cs  # noqa: E402

INPUTS, OUTPUTS, TOP_K = cs.INPUTS, cs.OUTPUTS, cs.TOP_K


class CachedBlipStep(nn.Module):
    def __init__(self, text_decoder: nn.Module, cap: int, top_k: int = TOP_K):
        super().__init__()
        config = text_decoder.config
        if cap > config.max_position_embeddings:
            raise ValueError(f'cache capacity {cap} > max_position_embeddings {config.max_position_embeddings}')
        self.bert, self.cls = text_decoder.bert, text_decoder.cls
        self.cap, self.top_k = cap, top_k
        self.heads = config.num_attention_heads
        self.eos = config.sep_token_id  # BLIP stops on [SEP]; config.eos_token_id is an unused id
        # BLIP's causal mask value (masking_utils: the dtype's minimum), so masked weights are 0.
        self.neg = float(torch.finfo(torch.float32).min)

    def forward(self, input_ids, beam_idx, image_embeds, repetition_penalty, suppress_eos, normalize_scores, start,
                past_image, past_kv, past_length, past_tokens):
        keep = 1.0 - start                                                   # [B, 1]
        keep_i = keep.to(torch.int64)
        # 1. The state after reorder; Triton resets it at START, the graph ignores it there.
        kv = cs.reorder(past_kv, beam_idx) * keep[:, :, None, None, None, None]
        tokens = cs.reorder(past_tokens, beam_idx) * keep_i[:, :, None]
        length = past_length * keep_i                                        # L0 [B, 1]
        image = past_image * keep[:, :, None] + image_embeds * start[:, :, None]
        t = input_ids.shape[2]
        tokens = cs.write_cache(tokens.unsqueeze(-1), input_ids.unsqueeze(-1), length).squeeze(-1)
        present_length = length + t

        # 2. Embeddings at positions L0 .. L0+T-1.
        emb = self.bert.embeddings
        positions = length + torch.arange(t, dtype=torch.int64, device=input_ids.device).unsqueeze(0)   # [B, T]
        h = emb.LayerNorm(emb.word_embeddings(input_ids) + emb.position_embeddings(positions).unsqueeze(1))
        mask = cs.cache_attention_mask(length, t, self.cap, self.neg).unsqueeze(1)                   # [B, 1, 1, T, cap]
        caches = []
        for layer in self.bert.encoder.layer:
            h, layer_kv = self.layer(layer, h, kv[:, :, len(caches)], length, mask, image)
            caches.append(layer_kv)
        present_kv = torch.stack(caches, dim=2)

        # 4. The LM head on the last new position, the processors, the top K.
        # On 2-D rows the decoder Linear exports as Gemm(transB) over the tied word embeddings
        # themselves; on 3-D it would be a MatMul with a folded transposed copy (+ V x D floats).
        last = h[:, :, -1]
        logits = self.cls(last.reshape(-1, last.shape[-1])).reshape(last.shape[:2] + (-1,))  # [B, beams, V]
        top_ids, top_scores, log_normalizer = cs.process_and_top_k(
            logits, tokens, present_length, repetition_penalty, suppress_eos, normalize_scores, self.eos, self.top_k)
        return top_ids, top_scores, log_normalizer, image, present_kv, present_length, tokens

    def layer(self, layer: nn.Module, h, kv, length, mask, image):
        """One BlipTextLayer; kv [B, beams, 2, cap, D] -> (h, the layer's updated kv)."""
        b, beams, t, d = h.shape
        sa = layer.attention.self
        heads, dh = self.heads, sa.attention_head_size
        k = cs.write_cache(kv[:, :, 0], sa.key(h), length)
        v = cs.write_cache(kv[:, :, 1], sa.value(h), length)

        def split(x):  # [B, beams, L, D] -> [B, beams, H, L, dh]
            return x.reshape(b, beams, -1, heads, dh).transpose(2, 3)

        scores = torch.matmul(split(sa.query(h)), split(k).transpose(-1, -2)) / math.sqrt(dh) + mask
        ctx = torch.matmul(torch.softmax(scores, dim=-1), split(v)).transpose(2, 3).reshape(b, beams, t, d)
        h = layer.attention.output(ctx, h)                                   # dense, residual, LayerNorm

        ca = layer.crossattention.self
        ctx = cs.absorbed_cross_attention(ca.query(h), image, ca.key.weight, ca.key.bias, ca.value.weight, ca.value.bias, heads)
        h = layer.crossattention.output(ctx, h)
        h = layer.output(layer.intermediate(h), h)                           # FFN, residual, LayerNorm
        return h, torch.stack([k, v], dim=2)


def example_inputs(step: CachedBlipStep, image_embeds: torch.Tensor, prefix: list[int], beams: int = 1, start: bool = True):
    """The inputs of a START step (zero state as Triton's initial state, beam_idx zeros) for
    len(image_embeds) captions that share `prefix`; with start=False the same state shapes but the
    prefix as new tokens after it (a non-START step, for tracing)."""
    b, n, d = image_embeds.shape
    layers = len(step.bert.encoder.layer)
    hidden = step.bert.config.hidden_size
    ids = torch.tensor(prefix, dtype=torch.int64).expand(b, beams, len(prefix)).contiguous()
    return (
        ids, torch.zeros(b, beams, dtype=torch.int64), image_embeds if start else torch.zeros(b, 1, 1),
        torch.ones(b, 1), torch.zeros(b, 1, dtype=torch.int64), torch.zeros(b, 1, dtype=torch.int64),
        torch.full((b, 1), 1.0 if start else 0.0),
        torch.zeros(b, n, d), torch.zeros(b, 1, layers, 2, step.cap, hidden),
        torch.zeros(b, 1, dtype=torch.int64), torch.zeros(b, 1, step.cap, dtype=torch.int64),
    )


def io_shapes(step: CachedBlipStep, image_tokens: int) -> dict[str, dict[str, list]]:
    """The ONNX graph's I/O dims (ec.onnx_io's format): B-first, the states with their fixed dims."""
    config = step.bert.config
    return cs.contract_shapes(len(step.bert.encoder.layer), config.hidden_size, step.cap, step.top_k, image_tokens, config.encoder_hidden_size)


def export_cached_decoder(step: CachedBlipStep, path: Path, image_tokens: int, opset: int = 17) -> None:
    """Traces `step` on a non-START step of 2 captions x 3 beams x 2 new tokens with 4 past
    beams (so no size is 1 and none equals another where it could be frozen), writes `path`,
    declares the dims of io_shapes and checks the graph."""
    hidden = step.bert.config.encoder_hidden_size
    g = torch.Generator().manual_seed(0)
    b, beams, past_beams, t = 2, 3, 4, 2
    layers, d = len(step.bert.encoder.layer), step.bert.config.hidden_size
    args = (
        torch.randint(1000, 2000, (b, beams, t), generator=g), torch.tensor([[0, 3, 1], [2, 2, 0]]),
        torch.zeros(b, 1, 1), torch.full((b, 1), 1.3), torch.tensor([[1], [0]]), torch.tensor([[1], [0]]),
        torch.zeros(b, 1), torch.randn(b, image_tokens, hidden, generator=g),
        torch.randn(b, past_beams, layers, 2, step.cap, d, generator=g), torch.tensor([[3], [5]]),
        torch.randint(1000, 2000, (b, past_beams, step.cap), generator=g),
    )
    cs.export_step(step, args, path, io_shapes(step, image_tokens), opset)
