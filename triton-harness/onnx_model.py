"""Triton python-backend model that runs a model.onnx with ONNX Runtime on the batch Triton hands it.

PyPI's tritonserver (nvidia-pytriton) carries only the python backend; Triton's ONNX Runtime backend
exists only in NGC images. prepare_repository.py puts this file beside each model.onnx as model.py,
so Triton's own frontend, dynamic batcher, ensemble scheduler and classification extension serve the
project's real models. What it cannot show is the onnxruntime backend itself (its session options,
CUDA, its own error texts).

Requests of one execute() call are concatenated along the batch dimension and run in one
session.run, as the onnxruntime backend does: Triton's dynamic batcher only gathers requests whose
non-batch shapes are equal, and requests are grouped by shape here all the same.
"""
from __future__ import annotations

import json
import os

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

    def execute(self, requests: list) -> list:
        responses: list = [None] * len(requests)
        groups: dict[tuple, list[int]] = {}
        arrays = []
        for i, request in enumerate(requests):
            inputs = {name: pb_utils.get_input_tensor_by_name(request, name) for name in self.input_names}
            missing = [name for name, tensor in inputs.items() if tensor is None]
            if missing:
                responses[i] = pb_utils.InferenceResponse(error=pb_utils.TritonError(f'missing inputs: {", ".join(missing)}'))
                arrays.append(None)
                continue
            feed = {name: _as_onnx(tensor.as_numpy()) for name, tensor in inputs.items()}
            arrays.append(feed)
            shape_key = tuple(feed[name].shape[1:] if self.batched else feed[name].shape for name in self.input_names)
            groups.setdefault(shape_key if self.batched else (i,), []).append(i)
        for members in groups.values():
            feeds = [arrays[i] for i in members]
            try:
                if self.batched:
                    merged = {name: np.concatenate([f[name] for f in feeds]) for name in self.input_names}
                else:
                    merged = feeds[0]
                results = self.session.run(self.output_names, merged)
            except Exception as err:  # one failing run fails its own requests, not the model
                for i in members:
                    responses[i] = pb_utils.InferenceResponse(error=pb_utils.TritonError(f'onnxruntime: {err}'))
                continue
            offset = 0
            for i, feed in zip(members, feeds):
                rows = feed[self.input_names[0]].shape[0] if self.batched else None
                outputs = [
                    pb_utils.Tensor(name, np.ascontiguousarray(value[offset:offset + rows]) if self.batched else value)
                    for name, value in zip(self.output_names, results)
                ]
                offset += rows or 0
                responses[i] = pb_utils.InferenceResponse(output_tensors=outputs)
        return responses
