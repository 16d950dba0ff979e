"""Triton python-backend model that runs a model.onnx with ONNX Runtime on the batch Triton hands it.

PyPI's tritonserver (nvidia-pytriton) carries only the python backend; Triton's ONNX Runtime backend
exists only in NGC images. prepare_repository.py puts this file beside each model.onnx as model.py,
so Triton's own frontend, dynamic batcher, ensemble scheduler and classification extension serve the
project's real models. What it cannot show is the onnxruntime backend itself (its session options,
CUDA, its own error texts).

Requests of one execute() call are concatenated along the batch dimension and run in one
session.run, as the onnxruntime backend does: Triton's dynamic batcher only gathers requests whose
non-batch shapes are equal, and requests are grouped by shape here all the same.

A model with sequence_batching state (the cached caption decoder): the python backend has no
implicit state (it never calls TRITONBACKEND_StateUpdate), so this model keeps each sequence's
state itself, keyed by request.correlation_id(), as the onnxruntime backend keeps it per slot:
taken from the initial state at START, replaced by the state outputs after each run, dropped at
END and, since Triton tells a model nothing of idle sequences, after max_sequence_idle_microseconds
without a request. The control inputs (START) arrive as ordinary input tensors. So Triton's own
sequence batcher routes, orders and batches the gateway's sequences (its refusals and its Oldest
strategy are real); what this cannot show is Triton's state hand-over itself.
"""
from __future__ import annotations

import json
import os
import time

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


def _as_onnx(array: np.ndarray) -> np.ndarray:
    """Triton hands BYTES tensors over as object arrays of bytes; ONNX Runtime's string tensors
    take str. (Outputs need no conversion: the python backend serialises str elements as UTF-8.)"""
    if array.dtype != np.object_:
        return array
    return np.array([v.decode('utf-8') if isinstance(v, bytes) else v for v in array.flat], dtype=np.object_).reshape(array.shape)


def _parameter(config: dict, key: str) -> str | None:
    value = config.get('parameters', {}).get(key)
    return value.get('string_value') if value else None


_DTYPES = {'TYPE_FP32': np.float32, 'TYPE_INT64': np.int64, 'TYPE_INT32': np.int32, 'TYPE_FP16': np.float16,
           'TYPE_FP64': np.float64, 'TYPE_BOOL': np.bool_, 'TYPE_UINT8': np.uint8}
_SEQUENCE_END = 2  # TRITONSERVER_REQUEST_FLAG_SEQUENCE_END


class SequenceStates:
    """Each live sequence's state tensors ([1, ...], batch first), by correlation id."""

    def __init__(self, config: dict):
        sequence = config['sequence_batching']
        self.pairs = [(s['input_name'], s['output_name']) for s in sequence.get('state', [])]
        self.initial = {}
        for s in sequence.get('state', []):
            init = (s.get('initial_state') or [{}])[0]
            dims = [1 if int(d) == -1 else int(d) for d in init.get('dims', s['dims'])]
            self.initial[s['input_name']] = np.zeros([1, *dims] if config.get('max_batch_size', 0) > 0 else dims,
                                                     dtype=_DTYPES[s['data_type']])
        self.controls = [c['name'] for c in sequence.get('control_input', [])]
        # The START control and its "true" value (Triton fills controls from their *_false_true).
        self.start = None
        for c in sequence.get('control_input', []):
            for k in c.get('control', []):
                if k.get('kind', 'CONTROL_SEQUENCE_START') == 'CONTROL_SEQUENCE_START':
                    values = k.get('fp32_false_true') or k.get('int32_false_true') or k.get('bool_false_true') or [0, 1]
                    self.start = (c['name'], values[1])
        self.idle_s = int(sequence.get('max_sequence_idle_microseconds') or 1_000_000) / 1e6
        self.live: dict = {}  # correlation id -> (last request time, {input name: array})

    def inputs_for(self, request, feed: dict) -> None:
        """Adds the controls and this sequence's states to `feed`."""
        for name in self.controls:
            feed[name] = pb_utils.get_input_tensor_by_name(request, name).as_numpy()
        start = self.start is not None and feed[self.start[0]].reshape(-1)[0] == self.start[1]
        cid = request.correlation_id()
        known = self.live.get(cid)
        feed.update(self.initial if start or known is None else known[1])

    def update(self, request, outputs: dict) -> None:
        cid = request.correlation_id()
        if request.flags() & _SEQUENCE_END:
            self.live.pop(cid, None)
        else:
            self.live[cid] = (time.monotonic(), {i: outputs[o] for i, o in self.pairs})

    def reap(self) -> None:
        now = time.monotonic()
        for cid in [c for c, (t, _) in self.live.items() if now - t > self.idle_s]:
            del self.live[cid]


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        config = json.loads(args['model_config'])
        path = os.path.join(args['model_repository'], args['model_version'], 'model.onnx')
        options = ort.SessionOptions()
        # intra_op_thread_count is the onnxruntime backend's own parameter; honoured the same way.
        threads = _parameter(config, 'intra_op_thread_count')
        options.intra_op_num_threads = int(threads) if threads else 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry('session.intra_op.allow_spinning', '0')
        self.session = ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])
        self.batched = config.get('max_batch_size', 0) > 0
        self.input_names = [i['name'] for i in config['input']]
        self.output_names = [o['name'] for o in config['output']]
        self.states = SequenceStates(config) if config.get('sequence_batching', {}).get('state') else None
        self.feed_names = list(self.input_names)
        self.run_names = list(self.output_names)
        if self.states:
            self.feed_names += self.states.controls + [i for i, _ in self.states.pairs]
            self.run_names += [o for _, o in self.states.pairs]

    def execute(self, requests: list) -> list:
        responses: list = [None] * len(requests)
        groups: dict[tuple, list[int]] = {}
        arrays = []
        if self.states:
            self.states.reap()
        for i, request in enumerate(requests):
            inputs = {name: pb_utils.get_input_tensor_by_name(request, name) for name in self.input_names}
            missing = [name for name, tensor in inputs.items() if tensor is None]
            if missing:
                responses[i] = pb_utils.InferenceResponse(error=pb_utils.TritonError(f'missing inputs: {", ".join(missing)}'))
                arrays.append(None)
                continue
            feed = {name: _as_onnx(tensor.as_numpy()) for name, tensor in inputs.items()}
            if self.states:
                self.states.inputs_for(request, feed)
            arrays.append(feed)
            shape_key = tuple(feed[name].shape[1:] if self.batched else feed[name].shape for name in self.feed_names)
            groups.setdefault(shape_key if self.batched else (i,), []).append(i)
        for members in groups.values():
            feeds = [arrays[i] for i in members]
            try:
                if self.batched:
                    merged = {name: np.concatenate([f[name] for f in feeds]) for name in self.feed_names}
                else:
                    merged = feeds[0]
                results = self.session.run(self.run_names, merged)
            except Exception as err:  # one failing run fails its own requests, not the model
                for i in members:
                    responses[i] = pb_utils.InferenceResponse(error=pb_utils.TritonError(f'onnxruntime: {err}'))
                continue
            offset = 0
            for i, feed in zip(members, feeds):
                rows = feed[self.input_names[0]].shape[0] if self.batched else None
                mine = {name: np.ascontiguousarray(value[offset:offset + rows]) if self.batched else value
                        for name, value in zip(self.run_names, results)}
                offset += rows or 0
                if self.states:
                    self.states.update(requests[i], mine)
                outputs = [pb_utils.Tensor(name, mine[name]) for name in self.output_names]
                responses[i] = pb_utils.InferenceResponse(output_tensors=outputs)
        return responses
