"""The conformance cases: each one runs against a server and returns an Outcome, the gRPC status
name and message of an error, or "OK" with a summary of the answer. Cases run in this order on
both servers (statistics count the requests of the cases before them, and the repository cases
unload and reload models), so a case may depend on the ones above it.

Requests go through tritonclient.grpc's InferenceServerClient where it can express them, and
through its generated stubs (tritonclient.grpc.service_pb2) where it cannot: typed contents,
malformed requests, raw stream responses.

Normalised, and only this (the rest is compared byte for byte):
  * absolute paths of the served repository (a temporary copy differs per server) -> <repository>
  * models that triton-harness runs under Triton's python backend (every ONNX model): ModelConfig
    drops `backend`, `platform`, `default_model_filename` and the instance kind (the harness
    rewrites exactly these), ModelMetadata's `platform` "python" reads "onnxruntime_onnx" (what
    Triton's onnxruntime backend reports)
  * statistics: durations become "ns>0" or "0" (counts are compared exactly), last_inference
    is dropped
  * float outputs of the real models are compared with a tolerance (onnxruntime in Python under
    Triton, onnxruntime-node in the embedded server), small tensors exactly
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import grpc
import numpy as np
import tritonclient.grpc as grpcclient
from google.protobuf import json_format
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc as pb_grpc
from tritonclient.utils import InferenceServerException

ROOT = Path(__file__).resolve().parent.parent
ONNX_MODELS = {'add_sub', 'strings', 'int_scale', 'accumulate', 'accumulate_direct', 'caption_encoder', 'caption_decoder', 'food_classifier'}
REPOSITORY_PATH = re.compile(r'/\S*?(?:/\.cache/triton/repository\.\w+|/conformance-repository\.\w+/(?:triton|embedded))')


@dataclass
class Outcome:
    code: str
    text: str
    # Float tensors compared with a tolerance rather than through `text`.
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def matches(self, other: 'Outcome') -> bool:
        if (self.code, self.text, sorted(self.arrays)) != (other.code, other.text, sorted(other.arrays)):
            return False
        return all(np.allclose(self.arrays[k], other.arrays[k], rtol=1e-3, atol=1e-4) for k in self.arrays)

    def show(self) -> str:
        return f'{self.code}: {self.text}' if self.text else self.code


class Target:
    """A server under test: tritonclient's client plus raw stubs over one more channel."""

    def __init__(self, address: str):
        self.address = address
        self.client = grpcclient.InferenceServerClient(address)
        self.channel = grpc.insecure_channel(address)
        self.stub = pb_grpc.GRPCInferenceServiceStub(self.channel)

    def close(self) -> None:
        self.client.close()
        self.channel.close()


def normalise(text: str) -> str:
    return REPOSITORY_PATH.sub('<repository>', text)


def attempt(fn: Callable[[], object]) -> Outcome:
    try:
        result = fn()
    except InferenceServerException as e:
        return Outcome(str(e.status()).removeprefix('StatusCode.'), normalise(e.message() or ''))
    except grpc.RpcError as e:
        return Outcome(e.code().name, normalise(e.details() or ''))
    return result if isinstance(result, Outcome) else Outcome('OK', normalise(str(result)))


def as_dict(message) -> dict:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def compact(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(',', ':'))


# ---- requests -------------------------------------------------------------------------------

def f32(*shape: int, start: float = 0.0) -> np.ndarray:
    return (np.arange(int(np.prod(shape)), dtype=np.float32) + start).reshape(shape)


def infer_input(name: str, array: np.ndarray, datatype: str | None = None) -> grpcclient.InferInput:
    i = grpcclient.InferInput(name, list(array.shape), datatype or grpcclient.np_to_triton_dtype(array.dtype))
    i.set_data_from_numpy(array)
    return i


def raw_request(model: str, tensors: list[tuple[str, str, list[int]]], raw: list[bytes], id: str = '', version: str = '',
                **parameters) -> pb.ModelInferRequest:
    """A ModelInferRequest with exactly these inputs and raw contents (however inconsistent)."""
    r = pb.ModelInferRequest(model_name=model, model_version=version, id=id)
    for name, datatype, shape in tensors:
        t = r.inputs.add(name=name, datatype=datatype)
        t.shape.extend(shape)
    r.raw_input_contents.extend(raw)
    for key, value in parameters.items():
        set_parameter(r.parameters[key], value)
    return r


def set_parameter(p: pb.InferParameter, value) -> None:
    if isinstance(value, pb.InferParameter):
        p.CopyFrom(value)
    elif isinstance(value, bool):
        p.bool_param = value
    elif isinstance(value, int):
        p.int64_param = value
    else:
        p.string_param = value


def add_sub_request(id: str = '', rows: int = 1, **parameters) -> pb.ModelInferRequest:
    a, b = f32(rows, 4), f32(rows, 4, start=10)
    return raw_request('add_sub', [('INPUT0', 'FP32', [rows, 4]), ('INPUT1', 'FP32', [rows, 4])], [a.tobytes(), b.tobytes()],
                       id=id, **parameters)


def bytes_layout(*elements: bytes) -> bytes:
    return b''.join(len(e).to_bytes(4, 'little') + e for e in elements)


def pixels(rows: int) -> np.ndarray:
    return (np.random.default_rng(7).random((rows, 3, 64, 64), dtype=np.float32) - 0.5) * 2


# ---- summaries of successful answers --------------------------------------------------------

def tensor_summary(name: str, datatype: str, shape, values: np.ndarray, arrays: dict) -> str:
    head = f'{name} {datatype} {list(shape)}'
    if values.dtype == np.object_:
        return f'{head} = {[v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values.flatten().tolist()]}'
    if values.dtype.kind == 'f' and values.size > 16:
        arrays[name] = values
        return head
    return f'{head} = {values.flatten().tolist()}'


def response_outcome(response: grpcclient.InferResult) -> Outcome:
    r = response.get_response()
    arrays: dict[str, np.ndarray] = {}
    parts = [f'model {r.model_name} v{r.model_version} id {r.id!r}']
    # By name: Triton orders an ensemble's outputs by a hash set; clients match them by name.
    for o in sorted(r.outputs, key=lambda o: o.name):
        parts.append(tensor_summary(o.name, o.datatype, o.shape, response.as_numpy(o.name), arrays))
    params = {k: as_dict(v) for k, v in r.parameters.items()}
    if params:
        parts.append(f'parameters {compact(params)}')
    return Outcome('OK', '; '.join(parts), arrays)


def raw_response_outcome(r: pb.ModelInferResponse) -> Outcome:
    """Summarises a ModelInferResponse from the raw stub (decoding raw outputs with numpy)."""
    from tritonclient.grpc import InferResult
    return response_outcome(InferResult(r))


def config_of(t: Target, model: str, version: str = '') -> Outcome:
    config = t.client.get_model_config(model, version, as_json=True)['config']
    if model in ONNX_MODELS:
        for key in ('backend', 'platform', 'default_model_filename'):
            config.pop(key, None)
        for group in config.get('instance_group', []):
            group['kind'] = '<kind>'
    return Outcome('OK', compact(config))


def metadata_of(t: Target, model: str, version: str = '') -> Outcome:
    metadata = t.client.get_model_metadata(model, version, as_json=True)
    if model in ONNX_MODELS and metadata.get('platform') == 'python':
        metadata['platform'] = 'onnxruntime_onnx'
    return Outcome('OK', compact(metadata))


def durations(value):
    """Statistics with each duration's ns replaced by whether it is > 0 (counts stay exact)."""
    if isinstance(value, dict):
        return {k: ('ns>0' if int(v) > 0 else '0') if k == 'ns' else durations(v) for k, v in value.items() if k != 'last_inference'}
    if isinstance(value, list):
        return [durations(v) for v in value]
    return value


def statistics_of(t: Target, model: str = '', version: str = '') -> Outcome:
    stats = t.client.get_inference_statistics(model, version, as_json=True).get('model_stats', [])
    if not model:  # every model: names and versions only, the rest is covered per model
        return Outcome('OK', compact([[s['name'], s['version']] for s in stats]))
    return Outcome('OK', compact(durations(stats)))


def index_of(t: Target, ready: bool = False) -> Outcome:
    return Outcome('OK', compact(t.client.get_model_repository_index(as_json=True).get('models', []) if not ready else
                                 as_dict(t.stub.RepositoryIndex(pb.RepositoryIndexRequest(ready=True))).get('models', [])))


def health_check(t: Target) -> Outcome:
    # grpc.health.v1.Health/Check by hand: the request is empty (service ""), the answer's field 1
    # is the serving status (1 SERVING, 2 NOT_SERVING).
    check = t.channel.unary_unary('/grpc.health.v1.Health/Check', request_serializer=lambda _: b'', response_deserializer=bytes)
    answer = check(None)
    return Outcome('OK', f'status {answer[1] if len(answer) > 1 else 0}')


def stream(t: Target, requests: list[pb.ModelInferRequest]) -> Outcome:
    """Every ModelStreamInfer response, in full (outputs by name, datatype and shape), by request id."""
    answers = []
    for r in t.stub.ModelStreamInfer(iter(requests), timeout=30):
        d = as_dict(r)
        response = d.get('infer_response', {})
        response.pop('raw_output_contents', None)
        if 'outputs' in response:
            response['outputs'].sort(key=lambda o: o['name'])
        answers.append(d)
    # Responses to different requests may come in any order; each carries its request's id.
    answers.sort(key=lambda d: d.get('infer_response', {}).get('id', ''))
    return Outcome('OK', compact(answers))


def infer(t: Target, model: str, inputs: list[grpcclient.InferInput], outputs=None, **kw) -> Outcome:
    return response_outcome(t.client.infer(model, inputs, outputs=outputs, **kw))


def raw_infer(t: Target, request: pb.ModelInferRequest) -> Outcome:
    return raw_response_outcome(t.stub.ModelInfer(request))


def sequence_step(t: Target, id, value: float, start: bool = False, end: bool = False, rows: int = 1, model: str = 'accumulate') -> Outcome:
    """One request of a sequence to `accumulate`, through tritonclient's sequence arguments."""
    x = np.full((rows, 4), value, np.float32)
    return infer(t, model, [infer_input('INPUT', x)], sequence_id=id, sequence_start=start, sequence_end=end)


def direct_slots(t: Target) -> Outcome:
    """Direct: three sequences take slots 0-2, the one in slot 1 ends, then the one in slot 2 runs
    alone (slots 0 and 1 get null requests), then the one in slot 0 must still have its state."""
    step = lambda id, v, **kw: sequence_step(t, id, v, model='accumulate_direct', **kw).text  # noqa: E731
    answers = [step(9101, 1, start=True), step(9102, 2, start=True), step(9103, 3, start=True), step(9102, 2, end=True),
               step(9103, 3), step(9101, 1), step(9104, 7, start=True)]
    for id in (9101, 9103, 9104):
        answers.append(step(id, 0, end=True))
    return Outcome('OK', ' | '.join(a.split('; OUTPUT ')[1].split(';')[0] for a in answers))


def sequence_stream(t: Target, ids: list[int], steps: int) -> Outcome:
    """Every step of several sequences written to one stream at once (the server orders them)."""
    requests = []
    for k in range(steps):
        for id in ids:
            r = raw_request('accumulate', [('INPUT', 'FP32', [1, 4])], [np.full((1, 4), id % 100, np.float32).tobytes()],
                            id=f'{id}-{k}', sequence_id=id, sequence_start=k == 0, sequence_end=k == steps - 1)
            r.outputs.add(name='OUTPUT')
            requests.append(r)
    sums = {}
    for r in t.stub.ModelStreamInfer(iter(requests), timeout=30):
        if r.error_message:
            return Outcome('ERROR', r.error_message)
        sums[r.infer_response.id] = float(np.frombuffer(r.infer_response.raw_output_contents[0], np.float32)[0])
    return Outcome('OK', compact(dict(sorted(sums.items()))))


def typed_request(model: str, name: str, datatype: str, shape: list[int], field_name: str, values: list, id: str = '') -> pb.ModelInferRequest:
    r = pb.ModelInferRequest(model_name=model, id=id)
    t = r.inputs.add(name=name, datatype=datatype)
    t.shape.extend(shape)
    getattr(t.contents, field_name).extend(values)
    return r


def classification(k: int) -> list[grpcclient.InferRequestedOutput]:
    return [grpcclient.InferRequestedOutput('probabilities', class_count=k)]


def perf_analyzer(t: Target, model: str) -> Outcome:
    """perf_analyzer (the one in .venv) for one short measurement: exit status and its verdict line."""
    data = ROOT / f'perf/perf-analyzer/data/{model}.json'
    site = ROOT / '.venv/lib/python3.11/site-packages/nvidia/cuda_runtime/lib'
    env = {**os.environ, 'LD_LIBRARY_PATH': f'{site}:{os.environ.get("LD_LIBRARY_PATH", "")}'}
    args = [str(ROOT / '.venv/bin/perf_analyzer'), '-i', 'grpc', '-u', t.address, '-m', model, '--input-data', str(data),
            '--measurement-interval', '1000', '--concurrency-range', '1',
            # Stable or not, the run must only get through: this checks the RPCs, not speed.
            '--stability-percentage', '100']
    run = subprocess.run(args, env=env, capture_output=True, text=True, timeout=90)
    lines = [line.strip() for line in (run.stdout + run.stderr).splitlines() if line.strip()]
    if run.returncode == 0:
        return Outcome('OK', 'exit 0, ' + next((line for line in lines if line.startswith('Concurrency: 1')), 'no summary line').split(',')[0])
    return Outcome('FAILED', f'exit {run.returncode}: {lines[-1] if lines else ""}')


# ---- the cases ------------------------------------------------------------------------------

Case = tuple[str, Callable[[Target], object]]
ADD = lambda rows=1: [infer_input('INPUT0', f32(rows, 4)), infer_input('INPUT1', f32(rows, 4, start=10))]  # noqa: E731


def _load_config(t: Target, model: str, config: str) -> Outcome:
    t.client.load_model(model, config=config)
    return Outcome('OK', '')


def _raw_load(t: Target, model: str, repository: str = '', **parameters) -> Outcome:
    r = pb.RepositoryModelLoadRequest(model_name=model, repository_name=repository)
    for key, value in parameters.items():
        set_parameter(r.parameters[key], value)
    t.stub.RepositoryModelLoad(r)
    return Outcome('OK', '')


def _raw_unload(t: Target, model: str, repository: str = '', **parameters) -> Outcome:
    r = pb.RepositoryModelUnloadRequest(model_name=model, repository_name=repository)
    for key, value in parameters.items():
        set_parameter(r.parameters[key], value)
    t.stub.RepositoryModelUnload(r)
    settle(t)
    return Outcome('OK', '')


def settle(t: Target, timeout_s: float = 15) -> None:
    """Waits until no model is UNLOADING: Triton answers RepositoryModelUnload before its python
    stubs have exited, so what follows would otherwise race with the unload on one server only."""
    until = time.monotonic() + timeout_s
    while time.monotonic() < until:
        models = t.client.get_model_repository_index(as_json=True).get('models', [])
        if not any(m.get('state') == 'UNLOADING' for m in models):
            return
        time.sleep(0.1)


ADD_SUB_JSON_BATCH_2 = json.dumps({
    'name': 'add_sub', 'backend': '<backend>', 'max_batch_size': 2,
    'input': [{'name': 'INPUT0', 'data_type': 'TYPE_FP32', 'dims': [4]}, {'name': 'INPUT1', 'data_type': 'TYPE_FP32', 'dims': [4]}],
    'output': [{'name': 'OUTPUT0', 'data_type': 'TYPE_FP32', 'dims': [4]}, {'name': 'OUTPUT1', 'data_type': 'TYPE_FP32', 'dims': [4]}],
    'instance_group': [{'kind': 'KIND_CPU', 'count': 1}],
})


def backend_of(t: Target) -> str:
    """The backend each server runs add_sub with (python under the harness), for config overrides."""
    return t.client.get_model_config('add_sub', as_json=True)['config']['backend']


CASES: list[Case] = [
    # health
    ('ServerLive', lambda t: t.client.is_server_live()),
    ('ServerReady', lambda t: t.client.is_server_ready()),
    ('grpc.health.v1 Check', health_check),
    ('ModelReady add_sub', lambda t: t.client.is_model_ready('add_sub')),
    ('ModelReady add_sub v1', lambda t: t.client.is_model_ready('add_sub', '1')),
    ('ModelReady food_caption (ensemble)', lambda t: t.client.is_model_ready('food_caption')),
    ('ModelReady unknown model', lambda t: t.client.is_model_ready('no_such_model')),
    ('ModelReady unknown version', lambda t: t.client.is_model_ready('add_sub', '7')),
    ('ModelReady version "abc"', lambda t: t.client.is_model_ready('add_sub', 'abc')),
    ('ModelReady version "1abc"', lambda t: t.client.is_model_ready('add_sub', '1abc')),
    ('ModelReady version "-3"', lambda t: t.client.is_model_ready('add_sub', '-3')),
    ('ModelReady version "0"', lambda t: t.client.is_model_ready('add_sub', '0')),
    # metadata and config
    ('ServerMetadata', lambda t: compact(t.client.get_server_metadata(as_json=True))),
    ('ModelMetadata add_sub', lambda t: metadata_of(t, 'add_sub')),
    ('ModelMetadata strings (BYTES)', lambda t: metadata_of(t, 'strings')),
    ('ModelMetadata food_caption', lambda t: metadata_of(t, 'food_caption')),
    ('ModelMetadata food_caption v1', lambda t: metadata_of(t, 'food_caption', '1')),
    ('ModelMetadata unknown model', lambda t: metadata_of(t, 'no_such_model')),
    ('ModelMetadata unknown version', lambda t: metadata_of(t, 'add_sub', '3')),
    ('ModelMetadata version "abc"', lambda t: metadata_of(t, 'add_sub', 'abc')),
    ('ModelMetadata version out of range', lambda t: metadata_of(t, 'add_sub', '99999999999999999999')),
    ('ModelConfig add_sub', lambda t: config_of(t, 'add_sub')),
    ('ModelConfig caption_decoder', lambda t: config_of(t, 'caption_decoder')),
    ('ModelConfig food_classifier', lambda t: config_of(t, 'food_classifier')),
    ('ModelConfig food_caption v1', lambda t: config_of(t, 'food_caption', '1')),
    ('ModelConfig unknown model', lambda t: config_of(t, 'no_such_model')),
    ('ModelConfig unknown version', lambda t: config_of(t, 'add_sub', '3')),
    # inference that succeeds
    ('infer add_sub raw', lambda t: infer(t, 'add_sub', ADD())),
    ('infer add_sub raw, batch 3, id', lambda t: infer(t, 'add_sub', ADD(3), request_id='batch-3')),
    ('infer add_sub one requested output', lambda t: infer(t, 'add_sub', ADD(), [grpcclient.InferRequestedOutput('OUTPUT1')])),
    ('infer add_sub typed fp32_contents', lambda t: raw_infer(t, _typed_add_sub())),
    ('infer int_scale typed int_contents', lambda t: raw_infer(t, typed_request('int_scale', 'INPUT0', 'INT32', [2, 3], 'int_contents', [1, -2, 3, 4, 5, -6]))),
    ('infer int_scale raw INT32', lambda t: infer(t, 'int_scale', [infer_input('INPUT0', np.array([[7, 8, 9]], np.int32))])),
    ('infer strings BYTES raw', lambda t: infer(t, 'strings', [infer_input('INPUT0', np.array([b'hello', b'', 'caf\u00e9'.encode()], np.object_), 'BYTES')])),
    ('infer strings BYTES typed bytes_contents', lambda t: raw_infer(t, typed_request('strings', 'INPUT0', 'BYTES', [2], 'bytes_contents', [b'one', b'two']))),
    ('infer food_classifier classification top 3', lambda t: infer(t, 'food_classifier', [infer_input('pixel_values', pixels(1))], classification(3))),
    ('infer food_classifier classification batch 2', lambda t: infer(t, 'food_classifier', [infer_input('pixel_values', pixels(2))], classification(2))),
    ('infer food_caption (ensemble)', lambda t: infer(t, 'food_caption', [infer_input('pixel_values', pixels(1))])),
    ('infer food_caption classification', lambda t: infer(t, 'food_caption', [infer_input('pixel_values', pixels(2))],
                                                           [grpcclient.InferRequestedOutput('food_probabilities', class_count=1)])),
    ('infer caption_decoder INT64', lambda t: infer(t, 'caption_decoder', _decoder_inputs())),
    # inference errors
    ('infer unknown model', lambda t: infer(t, 'no_such_model', ADD())),
    ('infer unknown version', lambda t: infer(t, 'add_sub', ADD(), model_version='9')),
    ('infer version "abc"', lambda t: infer(t, 'add_sub', ADD(), model_version='abc')),
    ('infer version "1abc"', lambda t: infer(t, 'add_sub', ADD(), model_version='1abc')),
    ('infer missing input, with id', lambda t: infer(t, 'add_sub', ADD()[:1], request_id='req-7')),
    ('infer missing input, no id', lambda t: infer(t, 'add_sub', ADD()[1:])),
    ('infer no inputs', lambda t: raw_infer(t, raw_request('add_sub', [], [], id='empty'))),
    ('infer unexpected input', lambda t: infer(t, 'add_sub', [*ADD(), infer_input('INPUT9', f32(1, 4))], request_id='extra')),
    ('infer unexpected input in place of one', lambda t: infer(t, 'add_sub', [infer_input('INPUT9', f32(1, 4)), ADD()[1]], request_id='swap')),
    ('infer duplicate input', lambda t: raw_infer(t, raw_request('add_sub', [('INPUT0', 'FP32', [1, 4])] * 2, [f32(1, 4).tobytes()] * 2, id='dup'))),
    ('infer wrong datatype', lambda t: infer(t, 'add_sub', [infer_input('INPUT0', np.zeros((1, 4), np.int32)), ADD()[1]], request_id='dtype')),
    ('infer unknown datatype', lambda t: raw_infer(t, raw_request('add_sub', [('INPUT0', 'FLOAT', [1, 4]), ('INPUT1', 'FP32', [1, 4])],
                                                                  [f32(1, 4).tobytes()] * 2, id='dt'))),
    ('infer wrong shape', lambda t: infer(t, 'add_sub', [infer_input('INPUT0', f32(1, 5)), ADD()[1]], request_id='shape')),
    ('infer missing batch dimension', lambda t: infer(t, 'add_sub', [infer_input('INPUT0', f32(4)), infer_input('INPUT1', f32(4))], request_id='rank')),
    ('infer batch above max_batch_size', lambda t: infer(t, 'add_sub', ADD(9), request_id='big')),
    ('infer batch sizes differ', lambda t: infer(t, 'add_sub', [infer_input('INPUT0', f32(2, 4)), infer_input('INPUT1', f32(3, 4))], request_id='mixed')),
    ('infer batch 0', lambda t: raw_infer(t, raw_request('add_sub', [('INPUT0', 'FP32', [0, 4]), ('INPUT1', 'FP32', [0, 4])], [b'', b''], id='zero'))),
    ('infer negative dimension', lambda t: raw_infer(t, raw_request('add_sub', [('INPUT0', 'FP32', [-1, 4]), ('INPUT1', 'FP32', [1, 4])],
                                                                    [f32(1, 4).tobytes()] * 2, id='neg'))),
    ('infer raw byte size mismatch', lambda t: raw_infer(t, raw_request('add_sub', [('INPUT0', 'FP32', [1, 4]), ('INPUT1', 'FP32', [1, 4])],
                                                                        [f32(1, 4).tobytes(), f32(1, 3).tobytes()], id='size'))),
    ('infer fewer raw contents than inputs', lambda t: raw_infer(t, raw_request('add_sub', [('INPUT0', 'FP32', [1, 4]), ('INPUT1', 'FP32', [1, 4])],
                                                                                [f32(1, 4).tobytes()], id='few'))),
    ('infer more raw contents than inputs', lambda t: raw_infer(t, raw_request('add_sub', [('INPUT0', 'FP32', [1, 4]), ('INPUT1', 'FP32', [1, 4])],
                                                                               [f32(1, 4).tobytes()] * 3, id='many'))),
    ('infer raw and typed contents mixed', lambda t: raw_infer(t, _mixed_contents())),
    ('infer no contents at all', lambda t: raw_infer(t, raw_request('add_sub', [('INPUT0', 'FP32', [1, 4]), ('INPUT1', 'FP32', [1, 4])], [], id='none'))),
    ('infer typed contents count mismatch', lambda t: raw_infer(t, _typed_add_sub(count=3))),
    ('infer typed contents of another type', lambda t: raw_infer(t, typed_request('int_scale', 'INPUT0', 'INT32', [1, 3], 'fp32_contents', [1, 2, 3], id='kind'))),
    ('infer typed contents in two fields', lambda t: raw_infer(t, _two_fields())),
    ('infer -1 in a non-batch dimension', lambda t: raw_infer(t, raw_request('strings', [('INPUT0', 'BYTES', [-1])], [bytes_layout(b'a')], id='wild'))),
    ('infer BYTES bad length prefix', lambda t: raw_infer(t, raw_request('strings', [('INPUT0', 'BYTES', [1])], [b'\x09\x00\x00\x00abc'], id='bytes'))),
    ('infer BYTES element count mismatch', lambda t: raw_infer(t, raw_request('strings', [('INPUT0', 'BYTES', [3])], [bytes_layout(b'a', b'b')], id='count'))),
    ('infer BYTES more elements than the shape', lambda t: raw_infer(t, raw_request('strings', [('INPUT0', 'BYTES', [1])], [bytes_layout(b'a', b'b')], id='more'))),
    ('infer BYTES incomplete length indicator', lambda t: raw_infer(t, raw_request('strings', [('INPUT0', 'BYTES', [1])], [b'\x01\x00'], id='short'))),
    ('infer strings wrong rank (no batching)', lambda t: raw_infer(t, raw_request('strings', [('INPUT0', 'BYTES', [1, 2])], [bytes_layout(b'a', b'b')], id='rank2'))),
    ('infer unknown requested output', lambda t: infer(t, 'add_sub', ADD(), [grpcclient.InferRequestedOutput('OUTPUT7')], request_id='out')),
    # Not here: classification of a BYTES output. Triton 2.51 dies of SIGFPE on it (the embedded
    # server answers INVALID_ARGUMENT "class result not available ... unsupported type 'BYTES'").
    ('infer classification as string_param', lambda t: raw_infer(t, _classification_param('two'))),
    ('infer reserved parameter triton_x', lambda t: raw_infer(t, add_sub_request(id='resv', triton_x=1))),
    ('infer priority as string_param', lambda t: raw_infer(t, add_sub_request(id='prio', priority='high'))),
    ('infer timeout as bool_param', lambda t: raw_infer(t, add_sub_request(id='tmo', timeout=True))),
    ('infer priority negative', lambda t: raw_infer(t, add_sub_request(id='neg-prio', priority=-1))),
    ('infer sequence_id as bool_param', lambda t: raw_infer(t, add_sub_request(id='seq', sequence_id=True))),
    ('infer custom parameters', lambda t: raw_infer(t, add_sub_request(id='custom', colour='blue', answer=42, flag=True))),
    ('infer classification 0', lambda t: raw_infer(t, _classification_param(0))),
    ('infer input in shared memory', lambda t: raw_infer(t, _shared_memory_input())),
    ('infer food_caption with sequence_id', lambda t: raw_infer(t, _ensemble_request(sequence_id=7, sequence_start=True))),
    ('infer BYTES input to a FP32 model', lambda t: raw_infer(t, raw_request('add_sub', [('INPUT0', 'BYTES', [1, 4]), ('INPUT1', 'FP32', [1, 4])],
                                                                             [bytes_layout(b'a', b'b', b'c', b'd'), f32(1, 4).tobytes()], id='b2f'))),
    # sequences (the sequence batcher, with implicit state on the embedded server; triton-harness
    # keeps the state by correlation id under Triton's python backend)
    ('sequence START', lambda t: sequence_step(t, 9001, 1.0, start=True)),
    ('sequence next step carries the state', lambda t: sequence_step(t, 9001, 2.0)),
    ('sequence START again resets it', lambda t: sequence_step(t, 9001, 5.0, start=True)),
    ('sequence END', lambda t: sequence_step(t, 9001, 1.0, end=True)),
    ('sequence after its END', lambda t: sequence_step(t, 9001, 1.0)),
    ('sequence without START', lambda t: sequence_step(t, 9002, 1.0)),
    ('sequence batch size 2', lambda t: sequence_step(t, 9003, 1.0, start=True, rows=2)),
    ('sequence without an id', lambda t: sequence_step(t, 0, 1.0, start=True)),
    ('sequence string id', lambda t: sequence_step(t, 'caption-1', 3.0, start=True, end=True)),
    ('sequence string id of 129 characters', lambda t: sequence_step(t, 'x' * 129, 1.0, start=True)),
    ('sequence_id as uint64_param', lambda t: raw_infer(t, raw_request('accumulate', [('INPUT', 'FP32', [1, 4])], [f32(1, 4).tobytes()], id='u64',
                                                                       sequence_id=pb.InferParameter(uint64_param=5)))),
    ('sequence control sent as an input', lambda t: raw_infer(t, raw_request('accumulate', [('INPUT', 'FP32', [1, 4]), ('START', 'INT32', [1, 1])],
                                                                             [f32(1, 4).tobytes(), np.ones((1, 1), np.int32).tobytes()], id='ctl',
                                                                             sequence_id=9004, sequence_start=True))),
    ('sequence four pipelined on one stream', lambda t: sequence_stream(t, [9011, 9012, 9013, 9014], 6)),
    ('ModelConfig accumulate', lambda t: config_of(t, 'accumulate')),
    ('sequence Direct slots and null requests', direct_slots),
    ('ModelStatistics accumulate_direct (null requests)', lambda t: statistics_of(t, 'accumulate_direct')),
    # streams: the raw ModelStreamInferResponse messages
    ('stream success, id', lambda t: stream(t, [add_sub_request(id='s-ok')])),
    ('stream missing input, id', lambda t: stream(t, [raw_request('add_sub', [('INPUT0', 'FP32', [1, 4])], [f32(1, 4).tobytes()], id='s-bad')])),
    ('stream missing input, no id', lambda t: stream(t, [raw_request('add_sub', [('INPUT0', 'FP32', [1, 4])], [f32(1, 4).tobytes()])])),
    ('stream unknown model, id', lambda t: stream(t, [raw_request('no_such_model', [], [], id='s-unknown')])),
    ('stream unknown version, id', lambda t: stream(t, [raw_request('add_sub', [], [], id='s-v9', version='9')])),
    ('stream error between successes', lambda t: stream(t, [add_sub_request(id='s-1'), raw_request('add_sub', [], [], id='s-2'), add_sub_request(id='s-3')])),
    ('stream ensemble', lambda t: stream(t, [_ensemble_request(id='s-ens')])),
    ('stream version "abc"', lambda t: stream(t, [raw_request('add_sub', [], [], id='s-abc', version='abc')])),
    # statistics, after the requests above
    ('ModelStatistics add_sub', lambda t: statistics_of(t, 'add_sub')),
    ('ModelStatistics strings', lambda t: statistics_of(t, 'strings')),
    ('ModelStatistics food_caption (ensemble)', lambda t: statistics_of(t, 'food_caption')),
    ('ModelStatistics food_caption v1', lambda t: statistics_of(t, 'food_caption', '1')),
    ('ModelStatistics food_classifier (composing)', lambda t: statistics_of(t, 'food_classifier')),
    ('ModelStatistics every model', lambda t: statistics_of(t)),
    ('ModelStatistics unknown model', lambda t: statistics_of(t, 'no_such_model')),
    ('ModelStatistics unknown version', lambda t: statistics_of(t, 'add_sub', '3')),
    # repository
    ('RepositoryIndex', lambda t: index_of(t)),
    ('RepositoryIndex ready only', lambda t: index_of(t, ready=True)),
    ('RepositoryIndex repository_name', lambda t: t.stub.RepositoryIndex(pb.RepositoryIndexRequest(repository_name='other'))),
    ('unload strings', lambda t: _raw_unload(t, 'strings')),
    ('ModelReady strings after unload', lambda t: t.client.is_model_ready('strings')),
    ('ModelMetadata strings after unload', lambda t: metadata_of(t, 'strings')),
    ('ModelConfig strings after unload', lambda t: config_of(t, 'strings')),
    ('ModelStatistics strings after unload', lambda t: statistics_of(t, 'strings')),
    ('infer strings after unload', lambda t: infer(t, 'strings', [infer_input('INPUT0', np.array([b'x'], np.object_), 'BYTES')], request_id='gone')),
    ('infer strings v1 after unload', lambda t: infer(t, 'strings', [infer_input('INPUT0', np.array([b'x'], np.object_), 'BYTES')], model_version='1')),
    ('RepositoryIndex after unload', lambda t: index_of(t)),
    ('ServerReady after unload', lambda t: t.client.is_server_ready()),
    ('unload strings again', lambda t: _raw_unload(t, 'strings')),
    ('load strings', lambda t: _raw_load(t, 'strings')),
    ('infer strings after load', lambda t: infer(t, 'strings', [infer_input('INPUT0', np.array([b'back'], np.object_), 'BYTES')])),
    ('ModelStatistics strings after reload', lambda t: statistics_of(t, 'strings')),
    ('load unknown model', lambda t: _raw_load(t, 'no_such_model')),
    ('unload unknown model', lambda t: _raw_unload(t, 'no_such_model')),
    ('load repository_name', lambda t: _raw_load(t, 'strings', repository='other')),
    ('unload repository_name', lambda t: _raw_unload(t, 'strings', repository='other')),
    ('load unknown parameter', lambda t: _raw_load(t, 'strings', colour='blue')),
    ('load config not JSON', lambda t: _raw_load(t, 'add_sub', config='max_batch_size: 2')),
    ('load config as bool_param', lambda t: _raw_load(t, 'add_sub', config=True)),
    ('unload_dependents as string_param', lambda t: _raw_unload(t, 'int_scale', unload_dependents='yes')),
    ('unload with an unknown parameter', lambda t: _raw_unload(t, 'int_scale', colour='blue')),
    ('ModelReady int_scale after that unload', lambda t: t.client.is_model_ready('int_scale')),
    ('load int_scale', lambda t: _raw_load(t, 'int_scale')),
    ('load config override max_batch_size 2', lambda t: _load_config(t, 'add_sub', ADD_SUB_JSON_BATCH_2.replace('<backend>', backend_of(t)))),
    ('ModelConfig add_sub after override', lambda t: config_of(t, 'add_sub')),
    ('infer add_sub batch 3 after override', lambda t: infer(t, 'add_sub', ADD(3), request_id='after')),
    ('load add_sub from its config.pbtxt again', lambda t: _raw_load(t, 'add_sub')),
    ('infer add_sub batch 3 after reload', lambda t: infer(t, 'add_sub', ADD(3))),
    ('unload food_classifier, unload_dependents', lambda t: _raw_unload(t, 'food_classifier', unload_dependents=True)),
    ('RepositoryIndex after unload_dependents', lambda t: index_of(t)),
    ('ModelReady food_caption after unload_dependents', lambda t: t.client.is_model_ready('food_caption')),
    ('infer food_caption after unload_dependents', lambda t: infer(t, 'food_caption', [infer_input('pixel_values', pixels(1))], request_id='ens-gone')),
    ('load food_classifier after unload_dependents', lambda t: _raw_load(t, 'food_classifier')),
    ('ModelReady food_caption after its step loads again', lambda t: t.client.is_model_ready('food_caption')),
    ('load food_caption (loads food_classifier)', lambda t: _raw_load(t, 'food_caption')),
    ('RepositoryIndex ready only after load', lambda t: index_of(t, ready=True)),
    ('ModelStatistics food_caption after reload', lambda t: statistics_of(t, 'food_caption')),
    ('unload food_caption, keep dependents', lambda t: _raw_unload(t, 'food_caption', unload_dependents=False)),
    ('RepositoryIndex after unloading the ensemble alone', lambda t: index_of(t)),
    ('unload food_classifier, which nothing runs now', lambda t: _raw_unload(t, 'food_classifier')),
    # Now food_classifier is loaded only as food_caption's step, caption_encoder was named at start.
    ('load food_caption, loading food_classifier as its step', lambda t: _raw_load(t, 'food_caption')),
    ('unload food_caption, unload_dependents', lambda t: _raw_unload(t, 'food_caption', unload_dependents=True)),
    ('RepositoryIndex after unloading the ensemble with dependents', lambda t: index_of(t)),
    ('load food_caption once more', lambda t: _raw_load(t, 'food_caption')),
    ('unload caption_encoder, keep dependents', lambda t: _raw_unload(t, 'caption_encoder', unload_dependents=False)),
    ('infer food_caption, composing model unloaded', lambda t: infer(t, 'food_caption', [infer_input('pixel_values', pixels(1))], request_id='half')),
    ('ModelReady food_caption, composing model unloaded', lambda t: t.client.is_model_ready('food_caption')),
    ('RepositoryIndex, composing model unloaded', lambda t: index_of(t)),
    ('ServerReady, composing model unloaded', lambda t: t.client.is_server_ready()),
    ('load caption_encoder', lambda t: _raw_load(t, 'caption_encoder')),
    ('RepositoryIndex after the composing model loads', lambda t: index_of(t)),
    ('infer food_caption after reload of its step', lambda t: infer(t, 'food_caption', [infer_input('pixel_values', pixels(1))])),
    # perf_analyzer needs ServerMetadata, ModelMetadata, ModelConfig and ModelStatistics of an
    # ensemble and its composing models to agree with what Triton says.
    ('perf_analyzer food_caption', lambda t: perf_analyzer(t, 'food_caption')),
    ('perf_analyzer food_classifier', lambda t: perf_analyzer(t, 'food_classifier')),
]


def _typed_add_sub(count: int = 4) -> pb.ModelInferRequest:
    r = pb.ModelInferRequest(model_name='add_sub', id='typed')
    for name, start in (('INPUT0', 0.5), ('INPUT1', 2.0)):
        t = r.inputs.add(name=name, datatype='FP32')
        t.shape.extend([1, 4])
        t.contents.fp32_contents.extend([start + i for i in range(count)])
    return r


def _two_fields() -> pb.ModelInferRequest:
    r = _typed_add_sub()
    r.id = 'two'
    r.inputs[0].contents.bytes_contents.append(b'x')
    return r


def _mixed_contents() -> pb.ModelInferRequest:
    r = add_sub_request(id='mixed')
    r.inputs[1].contents.fp32_contents.extend([1, 2, 3, 4])
    return r


def _classification_param(value) -> pb.ModelInferRequest:
    r = pb.ModelInferRequest(model_name='food_classifier', id='clsparam')
    t = r.inputs.add(name='pixel_values', datatype='FP32')
    t.shape.extend([1, 3, 64, 64])
    r.raw_input_contents.append(pixels(1).tobytes())
    out = r.outputs.add(name='probabilities')
    set_parameter(out.parameters['classification'], value)
    return r


def _shared_memory_input() -> pb.ModelInferRequest:
    r = add_sub_request(id='shm')
    r.inputs[0].parameters['shared_memory_region'].string_param = 'no_such_region'
    r.inputs[0].parameters['shared_memory_byte_size'].int64_param = 16
    del r.raw_input_contents[0]
    return r


def _ensemble_request(id: str = '', **parameters) -> pb.ModelInferRequest:
    return raw_request('food_caption', [('pixel_values', 'FP32', [1, 3, 64, 64])], [pixels(1).tobytes()], id=id, **parameters)


def _decoder_inputs() -> list[grpcclient.InferInput]:
    ids = np.zeros((1, 32), np.int64)
    ids[0, :3] = [5, 17, 42]
    mask = (ids != 0).astype(np.int64)
    mask[0, 0] = 1
    embeds = np.random.default_rng(3).random((1, 65, 64), dtype=np.float32)
    return [infer_input('input_ids', ids), infer_input('attention_mask', mask), infer_input('image_embeds', embeds)]
