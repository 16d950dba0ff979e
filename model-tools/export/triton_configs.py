"""Triton model configurations for everything in model_repository/, in one place.

The demo training scripts and the exporters for real checkpoints write their config.pbtxt through
these functions, so a demo model and a real one differ only in their dims and parameters, never in
tensor names or scheduling. Each model also gets alternative configurations in configs/, chosen
with Triton's --model-config-name (the same name applies to every model that has that file):

  cpu        KIND_CPU, no dynamic batching: hosts without a GPU.
  gpu        one instance on a GPU, no dynamic batching: the baseline to compare batching against.
  dynamic    one instance per GPU with dynamic batching (what config.pbtxt uses).
  multi_gpu  dynamic batching with one instance pinned to GPU 0 and one to GPU 1.

No third-party imports: the tests import this file without torch.
"""
from __future__ import annotations

from pathlib import Path

VARIANTS = ('cpu', 'gpu', 'dynamic', 'multi_gpu')


# No queue policy is shipped, though Triton's queues are unbounded by default: in tritonserver 2.51
# any default_queue_policy turns the batcher's prefetching off (PriorityQueue::SupportPrefetching),
# and then a request arriving while the model is busy is not always woken for: perf_analyzer at
# concurrency 1 on caption_decoder measured 0.6 ms average (std 0.2-0.5 ms) without a policy and
# 4-30 ms (std 41-120 ms) with `max_queue_size: 128` or with `default_timeout_microseconds`.
# The gateway bounds what it sends instead (admission control, gateway/src/admission/), and maps a
# policy's refusals (503 GW_ERR_OVERLOADED, 504 GW_ERR_TRITON_DEADLINE) for operators who set one;
# it always sends each call's remaining budget as the `timeout` parameter, which such a policy
# honours with allow_timeout_override.


def dynamic_batching(delay_us: int, preferred: tuple[int, ...] = ()) -> str:
    sizes = f'\n  preferred_batch_size: [ {", ".join(map(str, preferred))} ]' if preferred else ''
    return f'dynamic_batching {{{sizes}\n  max_queue_delay_microseconds: {delay_us}\n}}\n'


def scheduling(variant: str, batching: str) -> str:
    """The dynamic_batching and instance_group blocks of `variant` ('default' is config.pbtxt's).
    `batching` is the model's dynamic_batching block."""
    if variant == 'cpu':
        return 'instance_group [ { kind: KIND_CPU count: 1 } ]\n'
    if variant == 'gpu':
        return 'instance_group [ { kind: KIND_GPU count: 1 gpus: [ 0 ] } ]\n'
    if variant in ('default', 'dynamic'):
        return batching + '# No gpus list: Triton creates this group on every GPU it sees.\ninstance_group [ { kind: KIND_GPU count: 1 } ]\n'
    if variant == 'multi_gpu':
        return batching + 'instance_group [\n  { kind: KIND_GPU count: 1 gpus: [ 0 ] },\n  { kind: KIND_GPU count: 1 gpus: [ 1 ] }\n]\n'
    raise ValueError(f'unknown variant {variant!r}; expected default or one of {VARIANTS}')


def parameters(params: dict[str, str]) -> str:
    rows = ',\n'.join(f'  {{ key: "{k}" value: {{ string_value: "{v}" }} }}' for k, v in params.items())
    return f'parameters [\n{rows}\n]\n'


def comment(text: str) -> str:
    return ''.join(f'# {line}'.rstrip() + '\n' for line in text.strip().splitlines())


# Neither caption model waits for a batch to fill: under load, batches form from what queues while
# the instance is busy, and at low load a delay is paid by every caption (on every token for the
# decoder, whose steps of concurrent captions the gateway already sends as one request). A 500 us
# encoder delay cost a lone caption 3.5 ms of its encode stage instead of none (7 vs 3.5 ms on the
# embedded server, whose timers round it up to 1 ms).
ENCODER_BATCHING = dynamic_batching(0)
DECODER_BATCHING = dynamic_batching(0)
CLASSIFIER_BATCHING = dynamic_batching(2000, (8, 16))


def encoder_config(header: str, size: int, tokens: int, hidden: int, image_params: dict[str, str], variant: str = 'default') -> str:
    return (
        comment(header)
        + 'name: "caption_encoder"\nbackend: "onnxruntime"\nmax_batch_size: 16\n'
        + f'input [ {{ name: "pixel_values" data_type: TYPE_FP32 dims: [ 3, {size}, {size} ] }} ]\n'
        + f'output [ {{ name: "image_embeds" data_type: TYPE_FP32 dims: [ {tokens}, {hidden} ] }} ]\n'
        + scheduling(variant, ENCODER_BATCHING)
        + parameters(image_params)
    )


def decoder_config(header: str, length: int, tokens: int, hidden: int, vocab: int, generation_params: dict[str, str], variant: str = 'default') -> str:
    return (
        comment(header)
        + 'name: "caption_decoder"\nbackend: "onnxruntime"\nmax_batch_size: 64\n'
        + 'input [\n'
        + f'  {{ name: "input_ids" data_type: TYPE_INT64 dims: [ {length} ] }},\n'
        + f'  {{ name: "attention_mask" data_type: TYPE_INT64 dims: [ {length} ] }},\n'
        + f'  {{ name: "image_embeds" data_type: TYPE_FP32 dims: [ {tokens}, {hidden} ] }}\n]\n'
        + f'output [ {{ name: "logits" data_type: TYPE_FP32 dims: [ {vocab} ] }} ]\n'
        + scheduling(variant, DECODER_BATCHING)
        + parameters(generation_params)
    )


# The cached decoder (model-tools/cached-decoder.md): one caption is one sequence whose state the
# server keeps. `oldest` batches the steps of different captions dynamically; no delay, for the
# same reason as DECODER_BATCHING. The idle timeout is counted from a request's arrival, so it must
# cover the longest wait a caption's next step can see behind the others (5 s, against 1 s default).
CACHED_DECODER_TOP_K = 16
CACHED_DECODER_MAX_SEQUENCES = 64
CACHED_DECODER_IDLE_US = 5_000_000


def cached_decoder_scheduling(variant: str, tokens: int, hidden: int, layers: int, length: int) -> str:
    """The sequence_batching block (every variant has one: the state needs it) and the instance
    group of `variant`."""
    def state(past: str, present: str, dtype: str, dims: str, initial_dims: str) -> str:
        return (f'    {{ input_name: "{past}" output_name: "{present}" data_type: {dtype} dims: [ {dims} ]\n'
                f'      initial_state {{ name: "zero" data_type: {dtype} dims: [ {initial_dims} ] zero_data: true }} }}')
    states = ',\n'.join([
        state('past_image', 'present_image', 'TYPE_FP32', f'{tokens}, {hidden}', f'{tokens}, {hidden}'),
        state('past_kv', 'present_kv', 'TYPE_FP32', f'-1, {layers}, 2, {length}, {hidden}', f'1, {layers}, 2, {length}, {hidden}'),
        state('past_length', 'present_length', 'TYPE_INT64', '1', '1'),
        state('past_tokens', 'present_tokens', 'TYPE_INT64', f'-1, {length}', f'1, {length}'),
    ])
    batching = (
        'sequence_batching {\n'
        f'  max_sequence_idle_microseconds: {CACHED_DECODER_IDLE_US}\n'
        '  control_input [ { name: "START" control [ { kind: CONTROL_SEQUENCE_START fp32_false_true: [ 0, 1 ] } ] } ]\n'
        f'  oldest {{ max_candidate_sequences: {CACHED_DECODER_MAX_SEQUENCES} max_queue_delay_microseconds: 0 }}\n'
        f'  state [\n{states}\n  ]\n}}\n'
    )
    if variant == 'cpu':
        return batching + 'instance_group [ { kind: KIND_CPU count: 1 } ]\n'
    if variant == 'gpu':
        return batching + 'instance_group [ { kind: KIND_GPU count: 1 gpus: [ 0 ] } ]\n'
    return scheduling(variant, batching)


def cached_decoder_config(header: str, length: int, tokens: int, hidden: int, layers: int, generation_params: dict[str, str],
                          variant: str = 'default') -> str:
    """caption_decoder_cached: model-tools/cached-decoder.md is its contract; `length` is the
    stateless decoder's max_length and the cache's capacity."""
    k = CACHED_DECODER_TOP_K
    return (
        comment(header)
        + f'name: "caption_decoder_cached"\nbackend: "onnxruntime"\nmax_batch_size: {CACHED_DECODER_MAX_SEQUENCES}\n'
        + 'input [\n'
        + '  { name: "input_ids" data_type: TYPE_INT64 dims: [ -1, -1 ] },\n'
        + '  { name: "beam_idx" data_type: TYPE_INT64 dims: [ -1 ] },\n'
        + '  { name: "image_embeds" data_type: TYPE_FP32 dims: [ -1, -1 ] },\n'
        + '  { name: "repetition_penalty" data_type: TYPE_FP32 dims: [ 1 ] },\n'
        + '  { name: "suppress_eos" data_type: TYPE_INT64 dims: [ 1 ] },\n'
        + '  { name: "normalize_scores" data_type: TYPE_INT64 dims: [ 1 ] }\n]\n'
        + 'output [\n'
        + f'  {{ name: "top_ids" data_type: TYPE_INT64 dims: [ -1, {k} ] }},\n'
        + f'  {{ name: "top_scores" data_type: TYPE_FP32 dims: [ -1, {k} ] }},\n'
        + '  { name: "log_normalizer" data_type: TYPE_FP32 dims: [ -1 ] }\n]\n'
        + cached_decoder_scheduling(variant, tokens, hidden, layers, length)
        + parameters(generation_params)
    )


def classifier_config(header: str, size: int, classes: int, embedding: int, image_params: dict[str, str], variant: str = 'default') -> str:
    return (
        comment(header)
        + 'name: "food_classifier"\nbackend: "onnxruntime"\nmax_batch_size: 32\n'
        + f'input [ {{ name: "pixel_values" data_type: TYPE_FP32 dims: [ 3, {size}, {size} ] }} ]\n'
        + 'output [\n'
        + f'  {{ name: "probabilities" data_type: TYPE_FP32 dims: [ {classes} ] label_filename: "labels.txt" }},\n'
        + f'  {{ name: "embedding" data_type: TYPE_FP32 dims: [ {embedding} ] }}\n]\n'
        + scheduling(variant, CLASSIFIER_BATCHING)
        + parameters(image_params)
    )


def food_caption_config(size: int, classes: int, tokens: int, hidden: int) -> str:
    """The ensemble: one preprocessed image to the food classifier and the caption encoder, which
    run in parallel (neither waits on the other); the top class comes back through the
    classification extension on `food_probabilities`, whose labels are this model's labels.txt."""
    return (
        comment(
            'food_caption: the preprocessed image goes once to food_classifier and caption_encoder,\n'
            'which run in parallel. Ask for food_probabilities with the classification parameter for\n'
            'the top class ("score:index:label"); image_embeds feed the caption decode loop.\n'
            'Written by model-tools/export/triton_configs.py.'
        )
        + 'name: "food_caption"\nplatform: "ensemble"\nmax_batch_size: 16\n'
        + f'input [ {{ name: "pixel_values" data_type: TYPE_FP32 dims: [ 3, {size}, {size} ] }} ]\n'
        + 'output [\n'
        + f'  {{ name: "food_probabilities" data_type: TYPE_FP32 dims: [ {classes} ] label_filename: "labels.txt" }},\n'
        + f'  {{ name: "image_embeds" data_type: TYPE_FP32 dims: [ {tokens}, {hidden} ] }}\n]\n'
        + 'ensemble_scheduling {\n  step [\n'
        + '    {\n      model_name: "food_classifier"\n      model_version: -1\n'
        + '      input_map { key: "pixel_values" value: "pixel_values" }\n'
        + '      output_map { key: "probabilities" value: "food_probabilities" }\n    },\n'
        + '    {\n      model_name: "caption_encoder"\n      model_version: -1\n'
        + '      input_map { key: "pixel_values" value: "pixel_values" }\n'
        + '      output_map { key: "image_embeds" value: "image_embeds" }\n    }\n'
        + '  ]\n}\n'
    )


def generation_parameters(length: int, bos: int, eos: int, pad: int, prompt_template: str, max_new_tokens: int) -> dict[str, str]:
    """The decoder's parameters the gateway generates with (gateway/src/triton/model-spec.ts)."""
    return {
        'tokenizer': 'tokenizer.json', 'max_length': str(length), 'bos_token_id': str(bos), 'eos_token_id': str(eos),
        'pad_token_id': str(pad), 'default_prompt': '', 'prompt_template': prompt_template, 'max_new_tokens': str(max_new_tokens),
    }


def write_caption_models(repo: Path, encoder_header: str, decoder_header: str, size: int, tokens: int, hidden: int, vocab: int,
                         length: int, image_params: dict[str, str], generation_params: dict[str, str], labels: list[str]) -> None:
    """caption_encoder/ and caption_decoder/ config.pbtxt with their configs/ variants, and the
    food_caption ensemble for this encoder's input size and image_embeds dims."""
    write_with_variants(repo / 'caption_encoder', lambda variant: encoder_config(encoder_header, size, tokens, hidden, image_params, variant))
    write_with_variants(repo / 'caption_decoder', lambda variant: decoder_config(decoder_header, length, tokens, hidden, vocab, generation_params, variant))
    write_food_caption(repo, size, tokens, hidden, labels)


def write_cached_decoder(repo: Path, header: str, length: int, tokens: int, hidden: int, layers: int,
                         generation_params: dict[str, str]) -> None:
    """caption_decoder_cached/ config.pbtxt with its configs/ variants (the ONNX file and the
    tokenizer.json beside it are the exporter's)."""
    write_with_variants(repo / 'caption_decoder_cached',
                        lambda variant: cached_decoder_config(header, length, tokens, hidden, layers, generation_params, variant))


def write_with_variants(model_dir: Path, render) -> None:
    """Writes config.pbtxt and configs/<variant>.pbtxt; `render(variant)` returns the text."""
    (model_dir / 'configs').mkdir(parents=True, exist_ok=True)
    (model_dir / 'config.pbtxt').write_text(render('default'))
    for variant in VARIANTS:
        (model_dir / 'configs' / f'{variant}.pbtxt').write_text(render(variant))


def write_food_caption(repo: Path, size: int, tokens: int, hidden: int, labels: list[str]) -> None:
    """The ensemble's directory: config.pbtxt, its labels.txt and the empty version directory
    Triton requires (kept in git by a .gitkeep)."""
    model_dir = repo / 'food_caption'
    (model_dir / '1').mkdir(parents=True, exist_ok=True)
    (model_dir / '1' / '.gitkeep').write_text('')
    (model_dir / 'config.pbtxt').write_text(food_caption_config(size, len(labels), tokens, hidden))
    (model_dir / 'labels.txt').write_text('\n'.join(labels) + '\n')
