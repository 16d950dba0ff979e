"""Building blocks of a cached caption decoder step (model-tools/cached-decoder.md is the contract),
shared by the BLIP exporter (cached_blip_decoder.py) and the demo captioner's cached decoder
(model-tools/python/), and a reference loop that drives an exported one.

Public surface (every tensor function is traceable by torch.onnx.export: no Python numbers are
taken from tensors, every size comes from a shape, no data-dependent control flow):

  reorder(past, beam_idx)
      past [B, P, ...], beam_idx [B, beams] int64 -> [B, beams, ...]: row k of caption b is
      past[b, beam_idx[b, k]] (beam search's reorder; at START P is the initial state's 1).
  write_cache(cache, new, start)
      cache [B, beams, cap, D], new [B, beams, T, D], start [B, 1] int64 -> cache with positions
      start .. start+T-1 replaced by new (positions past cap are dropped; any dtype).
  cache_attention_mask(start, T, cap, neg)
      -> additive mask [B, 1, T, cap]: 0 where a query at position start+t may see cache
      position j (j <= start+t), `neg` elsewhere.
  absorbed_cross_attention(q, image, w_k, b_k, w_v, b_v, heads)
      q [B, ..., D] (projected queries, e.g. [B, beams, T, D]), image [B, N, De] -> the
      attention context [B, ..., D] before the output projection, without the image's keys
      and values (the contract's "Cross-attention to the image absorbed").
  process_and_top_k(logits, tokens, length, repetition_penalty, suppress_eos, normalize_scores, eos_id, k)
      logits [B, beams, V] -> (top_ids [B, beams, k] int64, top_scores [B, beams, k] fp32,
      log_normalizer [B, beams] fp32): transformers' processors, then the k best.
  contract_shapes(layers, hidden, cap, k, image_tokens, image_hidden)
      the ONNX graph's I/O dims the contract fixes (export_common.onnx_io's format).
  export_step(step, args, path, shapes, opset=17)
      traces a cached step module on `args` (a non-START step, so no size is frozen at 1) with
      the contract's names and dynamic dims, declares `shapes`, checks the file.
  generate_cached(session, image_embeds, prefix, *, eos_id, pad_id, max_new_tokens, num_beams=1,
                  min_new_tokens=0, repetition_penalty=1.0, length_penalty=1.0, early_stopping=False)
      greedy decoding or beam search over an onnxruntime InferenceSession of a cached decoder,
      one caption driven as Triton's sequence batcher drives it; returns the new token ids
      without a final eos (what the gateway returns as a caption's tokens).
"""
from __future__ import annotations

import inspect
import math
from pathlib import Path

import torch

INPUTS = ['input_ids', 'beam_idx', 'image_embeds', 'repetition_penalty', 'suppress_eos', 'normalize_scores', 'START',
          'past_image', 'past_kv', 'past_length', 'past_tokens']
OUTPUTS = ['top_ids', 'top_scores', 'log_normalizer', 'present_image', 'present_kv', 'present_length', 'present_tokens']
TOP_K = 16


def reorder(past: torch.Tensor, beam_idx: torch.Tensor) -> torch.Tensor:
    # One Gather over the flattened (caption, beam) rows, not GatherElements with an index as
    # large as the cache: the reorder runs at every step on the whole key/value cache.
    rows = past.shape[1]
    flat = past.flatten(0, 1)
    offset = torch.arange(beam_idx.shape[0], dtype=torch.int64, device=past.device).unsqueeze(1) * rows
    picked = flat.index_select(0, (beam_idx + offset).reshape(-1))
    return picked.reshape(beam_idx.shape + past.shape[2:])


def write_cache(cache: torch.Tensor, new: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    # Each cache position j takes new[j - start] when start <= j < start + T, else keeps its value:
    # a one-hot match of positions, a gather and a select, so the values are copied bit for bit
    # (no arithmetic on them) and T is only ever a traced size (arange), never a Python number.
    cap = cache.shape[2]
    j = torch.arange(cap, dtype=torch.int64, device=cache.device).unsqueeze(0)         # [1, cap]
    offset = j - start                                                                 # [B, cap]
    steps = torch.arange(new.shape[2], dtype=torch.int64, device=cache.device)         # [T]
    hit = offset.unsqueeze(-1) == steps                                                # [B, cap, T]
    written = hit.any(dim=-1)
    index = (hit.to(torch.int64) * steps).sum(dim=-1)                                  # [B, cap], 0 where not written
    index = index[:, None, :, None].expand(new.shape[0], new.shape[1], cap, new.shape[3])
    return torch.where(written[:, None, :, None], new.gather(2, index), cache)


def cache_attention_mask(start: torch.Tensor, t, cap, neg: float) -> torch.Tensor:
    # `t` and `cap` may be traced sizes (x.shape[i]); `neg` is the model's own masking value, which
    # softmax turns into exactly 0 (exp underflows), as the model's causal mask does.
    p = start + torch.arange(t, dtype=torch.int64, device=start.device).unsqueeze(0)   # [B, T]
    j = torch.arange(cap, dtype=torch.int64, device=start.device)                      # [cap]
    visible = j[None, None, :] <= p[:, :, None]                                        # [B, T, cap]
    zero = torch.zeros((), dtype=torch.float32, device=start.device)
    return torch.where(visible, zero, torch.full((), neg, dtype=torch.float32, device=start.device)).unsqueeze(1)


def absorbed_cross_attention(q: torch.Tensor, image: torch.Tensor, w_k: torch.Tensor, b_k: torch.Tensor,
                             w_v: torch.Tensor, b_v: torch.Tensor, heads: int) -> torch.Tensor:
    # Exactness: per head h, with K = E Wkᵀ + bk and V = E Wvᵀ + bv (E the image [N, De]),
    # q·Kᵀ = (q Wk_h) Eᵀ + q·bk_h, and q·bk_h is one number for every image token, which softmax
    # removes; and softmax(s) V = (softmax(s) E) Wv_hᵀ + bv_h because the weights sum to 1. So
    # softmax((q Wk_h) Eᵀ / √d) E Wv_hᵀ + bv_h is the model's cross-attention in real arithmetic
    # (b_k is accepted for the signature and deliberately unused); float32 sums in another order.
    b, (d, de) = q.shape[0], w_k.shape
    dh = d // heads  # a traced size while exporting: the scale below stays a tensor operation
    qh = q.reshape(b, -1, heads, dh).transpose(1, 2)                       # [B, H, R, dh]
    wk = w_k.reshape(heads, dh, de)                                        # [H, dh, De]
    wv = w_v.reshape(heads, dh, de)
    e = image.unsqueeze(1)                                                 # [B, 1, N, De]
    scores = torch.matmul(torch.matmul(qh, wk), e.transpose(-1, -2)) / dh ** 0.5        # [B, H, R, N]
    probs = torch.softmax(scores, dim=-1)
    ctx = torch.matmul(torch.matmul(probs, e), wv.transpose(-1, -2)) + b_v.reshape(heads, 1, dh)  # [B, H, R, dh]
    return ctx.transpose(1, 2).reshape(q.shape)


def process_and_top_k(logits: torch.Tensor, tokens: torch.Tensor, length: torch.Tensor, repetition_penalty: torch.Tensor,
                      suppress_eos: torch.Tensor, normalize_scores: torch.Tensor, eos_id: int, k: int):
    # transformers' order: (beam search only) log_softmax, RepetitionPenaltyLogitsProcessor on
    # every token so far (a vocabulary mask built by scatter, so a token present twice is
    # penalised once, as its scatter does), then MinNewTokensLengthLogitsProcessor (eos -> -inf).
    vocab = logits.shape[-1]
    scores = torch.where(normalize_scores.unsqueeze(-1) == 1, torch.log_softmax(logits, dim=-1), logits)
    cap = tokens.shape[-1]
    valid = torch.arange(cap, dtype=torch.int64, device=tokens.device)[None, None, :] < length.unsqueeze(-1)
    # Positions past `length` point at an extra column V, dropped after the scatter.
    ids = torch.where(valid, tokens, torch.full_like(tokens, 1) * vocab)
    present = torch.zeros(logits.shape[:-1] + (vocab + 1,), dtype=logits.dtype, device=logits.device)
    present = present.scatter(2, ids, torch.ones_like(ids, dtype=logits.dtype))[..., :vocab] > 0
    p = repetition_penalty.unsqueeze(-1)
    penalised = torch.where(scores < 0, scores * p, scores / p)
    scores = torch.where(present, penalised, scores)
    is_eos = torch.arange(vocab, dtype=torch.int64, device=logits.device) == eos_id
    scores = torch.where(is_eos[None, None, :] & (suppress_eos.unsqueeze(-1) == 1),
                         torch.full((), -math.inf, dtype=scores.dtype, device=scores.device), scores)
    top_scores, top_ids = torch.topk(scores, k, dim=-1)
    return top_ids, top_scores, torch.logsumexp(scores, dim=-1)


# --- the reference loop (a test harness: numpy and torch on the host, no Triton) ---------------

def contract_shapes(layers: int, hidden: int, cap: int, k: int, image_tokens: int, image_hidden: int) -> dict[str, dict[str, list]]:
    return {
        'inputs': {
            'input_ids': ['batch', 'beams', 'new_tokens'], 'beam_idx': ['batch', 'beams'],
            'image_embeds': ['batch', 'image_tokens', 'image_hidden'], 'repetition_penalty': ['batch', 1],
            'suppress_eos': ['batch', 1], 'normalize_scores': ['batch', 1], 'START': ['batch', 1],
            'past_image': ['batch', image_tokens, image_hidden], 'past_kv': ['batch', 'past_beams', layers, 2, cap, hidden],
            'past_length': ['batch', 1], 'past_tokens': ['batch', 'past_beams', cap],
        },
        'outputs': {
            'top_ids': ['batch', 'beams', k], 'top_scores': ['batch', 'beams', k], 'log_normalizer': ['batch', 'beams'],
            'present_image': ['batch', image_tokens, image_hidden], 'present_kv': ['batch', 'beams', layers, 2, cap, hidden],
            'present_length': ['batch', 1], 'present_tokens': ['batch', 'beams', cap],
        },
    }


def export_step(step: torch.nn.Module, args: tuple, path: Path, shapes: dict[str, dict[str, list]], opset: int = 17) -> None:
    import onnx
    import export_common as ec
    dynamic = {name: {i: dim for i, dim in enumerate(dims) if isinstance(dim, str)}
               for part in shapes.values() for name, dims in part.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    kwargs = dict(input_names=INPUTS, output_names=OUTPUTS, dynamic_axes=dynamic, opset_version=opset, do_constant_folding=True)
    if 'dynamo' in inspect.signature(torch.onnx.export).parameters:
        kwargs['dynamo'] = False
    with torch.no_grad():
        torch.onnx.export(step.eval(), args, str(path), **kwargs)
    ec.declare_shapes(path, shapes)
    onnx.checker.check_model(str(path))
    io = ec.onnx_io(path)
    if io != shapes:
        raise ec.ExportError(f'{path} has I/O {io}, expected {shapes}')


def generate_cached(session, image_embeds, prefix: list[int], *, eos_id: int, pad_id: int, max_new_tokens: int,
                    num_beams: int = 1, min_new_tokens: int = 0, repetition_penalty: float = 1.0,
                    length_penalty: float = 1.0, early_stopping=False) -> list[int]:
    """Decodes one caption over `session` (an onnxruntime InferenceSession of a cached decoder) as
    Triton's sequence batcher drives it: batch 1; the state starts as the config's zero initial
    state, each step's state outputs are the next step's state inputs; START 1 on the first step
    (the prefix for every beam, beam_idx zeros, the image [N, D]) and 0 afterwards (each beam's
    newest token, the beam it continues, the [1, 1] image placeholder). `image_embeds` is [N, D]
    or [1, N, D]. Greedy as transformers' _sample, beams as its _beam_search (initial scores
    [0, -1e9, ...], 2 x num_beams candidates, eos only from the best num_beams, length penalty
    over the generated length, its early-stop heuristic). `pad_id` is what a caption's extra last
    step would send (not needed here: the loop simply stops)."""
    import numpy as np
    del pad_id
    image = np.asarray(image_embeds, dtype=np.float32).reshape((1,) + np.shape(image_embeds)[-2:])
    dims = {i.name: i.shape for i in session.get_inputs()}
    _, _, layers, _, cap, hidden = dims['past_kv']
    image_shape = dims['past_image']
    k = session.get_outputs()[0].shape[-1]
    if not isinstance(k, int) or not isinstance(cap, int):
        raise ValueError(f'the session must declare fixed top-k and cache dims, got {k} and {cap}')
    if num_beams > k // 2:
        raise ValueError(f'num_beams {num_beams} > K/2 = {k // 2}: beam search would not be exact')
    if len(prefix) + max_new_tokens - 1 > cap:
        raise ValueError(f'prefix {len(prefix)} + {max_new_tokens} new tokens do not fit the cache ({cap})')
    if max_new_tokens <= 0:
        return []
    state = {
        'past_image': np.zeros((1, image_shape[1], image_shape[2]), np.float32),
        'past_kv': np.zeros((1, 1, layers, 2, cap, hidden), np.float32),
        'past_length': np.zeros((1, 1), np.int64),
        'past_tokens': np.zeros((1, 1, cap), np.int64),
    }
    outputs = [o.name for o in session.get_outputs()]

    def step(ids, beam_idx, generated: int):
        start = not step.started
        step.started = True
        feed = {
            'input_ids': np.asarray(ids, np.int64).reshape(1, len(ids), -1),
            'beam_idx': np.asarray(beam_idx, np.int64).reshape(1, -1),
            'image_embeds': image if start else np.zeros((1, 1, 1), np.float32),
            'repetition_penalty': np.array([[repetition_penalty]], np.float32),
            'suppress_eos': np.array([[int(generated < min_new_tokens)]], np.int64),
            'normalize_scores': np.array([[int(num_beams > 1)]], np.int64),
            'START': np.array([[1.0 if start else 0.0]], np.float32),
            **state,
        }
        got = dict(zip(outputs, session.run(outputs, feed)))
        for name in state:
            state[name] = got[name.replace('past_', 'present_')]
        return got['top_ids'][0], got['top_scores'][0]

    step.started = False
    if num_beams == 1:
        new: list[int] = []
        ids = [list(prefix)]
        while len(new) < max_new_tokens:
            top_ids, _ = step(ids, [0], len(new))
            token = int(top_ids[0, 0])
            if token == eos_id:
                break
            new.append(token)
            ids = [[token]]
        return new
    return _beam_search(step, list(prefix), eos_id, max_new_tokens, num_beams, length_penalty, early_stopping)


def _beam_search(step, prefix: list[int], eos_id: int, max_new_tokens: int, n: int, length_penalty: float, early_stopping):
    """transformers' vectorised _beam_search for one caption, on the top-K candidates per beam
    (every one of the best 2n over all beams is among its own beam's best 2n <= K). Same float32
    arithmetic; ties among candidates go to the lower beam, then the lower id."""
    prompt_len = len(prefix)
    max_length = prompt_len + max_new_tokens
    neg = torch.tensor(-1.0e9)
    # Running beams and the finished hypotheses, each a (tokens, generated length) per slot.
    running = [list(prefix) for _ in range(n)]
    running_scores = torch.zeros(n)
    running_scores[1:] = -1.0e9
    finished = [list(prefix) for _ in range(n)]
    finished_len = [0] * n
    finished_scores = torch.full((n,), -1.0e9)
    is_finished = torch.zeros(n, dtype=torch.bool)
    improvable = True
    top_n = torch.arange(2 * n) < n
    cur_len, beam_idx = prompt_len, [0] * n
    ids = [list(prefix) for _ in range(n)]
    while True:
        top_ids, top_scores = step(ids, beam_idx, cur_len - prompt_len)
        acc = torch.from_numpy(top_scores).float() + running_scores[:, None]         # [n, K]
        k = acc.shape[1]
        order = torch.sort(acc.reshape(-1), descending=True, stable=True).indices[:2 * n]
        cand_scores = acc.reshape(-1)[order]
        cand_beam = (order // k).tolist()
        cand_tok = [int(top_ids[b, i % k]) for b, i in zip(cand_beam, order.tolist())]
        cand_seqs = [running[b] + [t] for b, t in zip(cand_beam, cand_tok)]
        hits = torch.tensor([t == eos_id or cur_len + 1 >= max_length for t in cand_tok])
        # The live beams of the next step: the best n candidates that did not stop.
        live_scores = cand_scores + hits.float() * neg
        nxt = torch.topk(live_scores, k=n).indices.tolist()
        running = [cand_seqs[i] for i in nxt]
        running_scores = live_scores[nxt]
        beam_idx = [cand_beam[i] for i in nxt]
        ids = [[s[-1]] for s in running]
        # Finished hypotheses: only candidates among the best n may finish one.
        just = hits & top_n
        scores = cand_scores / ((cur_len + 1 - prompt_len) ** length_penalty)
        scores = scores + float(bool(is_finished.all()) and early_stopping is True) * neg
        scores = scores + float(not improvable) * neg
        scores = scores + (~just).float() * neg
        merged_scores = torch.cat([finished_scores, scores])
        pick = torch.topk(merged_scores, k=n).indices.tolist()
        merged_seqs = finished + cand_seqs
        merged_len = finished_len + [cur_len + 1 - prompt_len] * (2 * n)
        merged_done = torch.cat([is_finished, just])
        finished = [merged_seqs[i] for i in pick]
        finished_len = [merged_len[i] for i in pick]
        finished_scores = merged_scores[pick]
        is_finished = merged_done[pick]
        cur_len += 1
        # transformers' _check_early_stop_heuristic and _beam_search_has_unfinished_sequences.
        hypothetical = (max_length if early_stopping == 'never' and length_penalty > 0.0 else cur_len) - prompt_len
        best_running = running_scores[0] / (hypothetical ** length_penalty)
        worst_finished = torch.where(is_finished, finished_scores.min(), neg)
        improvable = improvable and bool((best_running > worst_finished).any())
        if not (improvable and not (bool(is_finished.all()) and early_stopping is True) and not bool(hits.all())):
            break
    best = finished[0][prompt_len:prompt_len + finished_len[0]]
    return best[:-1] if best and best[-1] == eos_id else best
