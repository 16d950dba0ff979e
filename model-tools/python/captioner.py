"""BLIP-shaped demo captioner: a ViT image encoder and a transformer text decoder with
cross-attention, sized to train on two CPU cores.

The exported interface is the one real BLIP is exported to (see export_blip.py), so the
gateway cannot tell them apart:
  encoder  pixel_values FP32 [B,3,S,S]                       -> image_embeds FP32 [B,N,D]
  decoder  input_ids INT64 [B,L], attention_mask INT64 [B,L],
           image_embeds FP32 [B,N,D]                         -> logits FP32 [B,V]
where L is fixed (right padding) so decode steps of different requests have equal shapes and
batch together, and the logits are those of the last attended position.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class CaptionerConfig:
    image_size: int = 64
    hidden: int = 64
    encoder_layers: int = 2
    decoder_layers: int = 2
    heads: int = 4
    mlp: int = 256
    vocab_size: int = 128
    max_length: int = 32  # L: the decoder's fixed input length


class Attention(nn.Module):
    """Multi-head attention written out with matmul/softmax, which exports to plain ONNX ops."""

    def __init__(self, hidden: int, heads: int, kv_hidden: int | None = None):
        super().__init__()
        self.heads = heads
        self.head_dim = hidden // heads
        self.q = nn.Linear(hidden, hidden)
        self.k = nn.Linear(kv_hidden or hidden, hidden)
        self.v = nn.Linear(kv_hidden or hidden, hidden)
        self.out = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor, kv: torch.Tensor, additive_mask: torch.Tensor | None = None) -> torch.Tensor:
        b, n, _ = x.shape
        m = kv.shape[1]
        q = self.q(x).view(b, n, self.heads, self.head_dim).transpose(1, 2)
        k = self.k(kv).view(b, m, self.heads, self.head_dim).transpose(1, 2)
        v = self.v(kv).view(b, m, self.heads, self.head_dim).transpose(1, 2)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)
        if additive_mask is not None:
            scores = scores + additive_mask
        out = scores.softmax(dim=-1) @ v
        return self.out(out.transpose(1, 2).reshape(b, n, -1))


class EncoderLayer(nn.Module):
    def __init__(self, c: CaptionerConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(c.hidden)
        self.attn = Attention(c.hidden, c.heads)
        self.norm2 = nn.LayerNorm(c.hidden)
        self.mlp = nn.Sequential(nn.Linear(c.hidden, c.mlp), nn.GELU(), nn.Linear(c.mlp, c.hidden))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h)
        return x + self.mlp(self.norm2(x))


# The food classifier's convolution blocks (in, out, stride); the captioner's stem has the same
# shape, so it can start from the classifier's trained weights (see ConvStem.load_from_onnx).
STEM_BLOCKS = [(3, 32, 2), (32, 48, 1), (48, 64, 2), (64, 96, 1), (96, 128, 2)]
STEM_STRIDE = 8


class ConvStem(nn.Module):
    """Convolutional patch embedding of a hybrid ViT (Dosovitskiy et al., 2021, §3.1): five
    3x3 conv + ReLU blocks, image S x S -> (S/8)^2 feature vectors of 128."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*[m for cin, cout, s in STEM_BLOCKS for m in (nn.Conv2d(cin, cout, 3, s, 1), nn.ReLU())])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)

    @torch.no_grad()
    def load_from_onnx(self, path: str) -> None:
        """Copies the trained food classifier's convolutions (BatchNorm already folded in by the
        ONNX export) into this stem: the captioner starts from features that already tell the
        34 drawings apart, as BLIP starts from a pretrained ViT."""
        import onnx
        from onnx import numpy_helper
        graph = onnx.load(path).graph
        weights = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        convs = [n for n in graph.node if n.op_type == 'Conv'][: len(STEM_BLOCKS)]
        targets = [m for m in self.blocks if isinstance(m, nn.Conv2d)]
        for node, conv in zip(convs, targets, strict=True):
            conv.weight.copy_(torch.from_numpy(weights[node.input[1]].copy()))
            conv.bias.copy_(torch.from_numpy(weights[node.input[2]].copy()))


class VisionEncoder(nn.Module):
    """Hybrid ViT: conv stem -> linear projection + class token + learned positions -> pre-LN
    transformer blocks -> final LayerNorm (BLIP's captioner reads the post-LayerNorm states)."""

    def __init__(self, c: CaptionerConfig):
        super().__init__()
        self.stem = ConvStem()
        self.proj = nn.Linear(STEM_BLOCKS[-1][1], c.hidden)
        tokens = (c.image_size // STEM_STRIDE) ** 2 + 1
        self.cls = nn.Parameter(torch.zeros(1, 1, c.hidden))
        self.pos = nn.Parameter(torch.randn(1, tokens, c.hidden) * 0.02)
        self.layers = nn.ModuleList(EncoderLayer(c) for _ in range(c.encoder_layers))
        self.norm = nn.LayerNorm(c.hidden)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        x = self.proj(self.stem(pixel_values).flatten(2).transpose(1, 2))
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        for layer in self.layers:
            x = layer(x)
        return self.norm(x)


class DecoderLayer(nn.Module):
    def __init__(self, c: CaptionerConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(c.hidden)
        self.self_attn = Attention(c.hidden, c.heads)
        self.norm2 = nn.LayerNorm(c.hidden)
        self.cross_attn = Attention(c.hidden, c.heads)
        self.norm3 = nn.LayerNorm(c.hidden)
        self.mlp = nn.Sequential(nn.Linear(c.hidden, c.mlp), nn.GELU(), nn.Linear(c.mlp, c.hidden))

    def forward(self, x: torch.Tensor, image_embeds: torch.Tensor, self_mask: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.self_attn(h, h, self_mask)
        x = x + self.cross_attn(self.norm2(x), image_embeds)
        return x + self.mlp(self.norm3(x))


class TextDecoder(nn.Module):
    """Causal transformer decoder with cross-attention to the image tokens. Positions are
    absolute 0..L-1, so sequences must be right-padded (as in BLIP)."""

    def __init__(self, c: CaptionerConfig):
        super().__init__()
        self.tokens = nn.Embedding(c.vocab_size, c.hidden)
        self.pos = nn.Parameter(torch.randn(1, c.max_length, c.hidden) * 0.02)
        self.layers = nn.ModuleList(DecoderLayer(c) for _ in range(c.decoder_layers))
        self.norm = nn.LayerNorm(c.hidden)
        self.head = nn.Linear(c.hidden, c.vocab_size)
        causal = torch.tril(torch.ones(c.max_length, c.max_length, dtype=torch.bool))
        self.register_buffer('causal', causal, persistent=False)

    def hidden_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, image_embeds: torch.Tensor) -> torch.Tensor:
        length = input_ids.shape[1]
        x = self.tokens(input_ids) + self.pos[:, :length]
        allowed = self.causal[:length, :length].unsqueeze(0) & attention_mask.bool().unsqueeze(1)
        # A finite large negative (as BLIP's -10000) keeps fully padded rows free of NaNs.
        additive = torch.where(allowed, 0.0, -1e4).unsqueeze(1).to(x.dtype)
        for layer in self.layers:
            x = layer(x, image_embeds, additive)
        return self.norm(x)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, image_embeds: torch.Tensor) -> torch.Tensor:
        """Logits for every position [B,L,V] (training)."""
        return self.head(self.hidden_states(input_ids, attention_mask, image_embeds))


class LastPositionDecoder(nn.Module):
    """The exported decoder: logits of the last attended position only, [B,V]."""

    def __init__(self, decoder: TextDecoder):
        super().__init__()
        self.decoder = decoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, image_embeds: torch.Tensor) -> torch.Tensor:
        hidden = self.decoder.hidden_states(input_ids, attention_mask, image_embeds)
        last = (attention_mask.sum(dim=1) - 1).clamp(min=0)
        picked = hidden.gather(1, last.view(-1, 1, 1).expand(-1, 1, hidden.shape[-1])).squeeze(1)
        return self.decoder.head(picked)


class Captioner(nn.Module):
    def __init__(self, c: CaptionerConfig):
        super().__init__()
        self.config = c
        self.encoder = VisionEncoder(c)
        self.decoder = TextDecoder(c)

    def forward(self, pixel_values: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.decoder(input_ids, attention_mask, self.encoder(pixel_values))
