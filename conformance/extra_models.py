"""Writes the conformance repository: the committed model_repository plus three tiny models.

  add_sub     FP32 INPUT0, INPUT1 [-1, 4] -> OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1
              (Triton's classic "simple" model; max_batch_size 8, dynamic batching off)
  strings     BYTES INPUT0 [-1] -> OUTPUT0 (max_batch_size 0): an ONNX Identity on strings
  int_scale   INT32 INPUT0 [-1, 3] -> OUTPUT0 = 2 * INPUT0 (max_batch_size 4), for int_contents
  accumulate  a sequence model (oldest, implicit state): FP32 INPUT [-1, 4] -> OUTPUT, the running
              sum of its sequence's inputs restarted by START, and the START/END/READY/CORRID
              controls it saw (Triton runs it under triton-harness, which keeps the state)
  accumulate_direct  the same under the Direct strategy (4 slots, null requests in empty slots)

The committed models are linked, not copied; the folder is written fresh on every run.

usage: extra_models.py TARGET
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OPSET = [helper.make_opsetid('', 13)]


def _model(graph: onnx.GraphProto) -> bytes:
    # IR 8 is what onnxruntime 1.2x in both servers reads without complaint.
    return helper.make_model(graph, opset_imports=OPSET, ir_version=8).SerializeToString()


def add_sub() -> bytes:
    t = lambda name: helper.make_tensor_value_info(name, TensorProto.FLOAT, ['batch', 4])  # noqa: E731
    return _model(helper.make_graph(
        [helper.make_node('Add', ['INPUT0', 'INPUT1'], ['OUTPUT0']), helper.make_node('Sub', ['INPUT0', 'INPUT1'], ['OUTPUT1'])],
        'add_sub', [t('INPUT0'), t('INPUT1')], [t('OUTPUT0'), t('OUTPUT1')]))


def strings() -> bytes:
    t = lambda name: helper.make_tensor_value_info(name, TensorProto.STRING, ['n'])  # noqa: E731
    return _model(helper.make_graph([helper.make_node('Identity', ['INPUT0'], ['OUTPUT0'])], 'strings', [t('INPUT0')], [t('OUTPUT0')]))


def int_scale() -> bytes:
    t = lambda name: helper.make_tensor_value_info(name, TensorProto.INT32, ['batch', 3])  # noqa: E731
    two = numpy_helper.from_array(np.array(2, dtype=np.int32), 'two')
    return _model(helper.make_graph([helper.make_node('Mul', ['INPUT0', 'two'], ['OUTPUT0'])], 'int_scale', [t('INPUT0')], [t('OUTPUT0')], [two]))


def accumulate() -> bytes:
    t = lambda name, kind, width: helper.make_tensor_value_info(name, kind, ['batch', width])  # noqa: E731
    f, i = TensorProto.FLOAT, TensorProto.INT32
    one = numpy_helper.from_array(np.array([1], dtype=np.float32), 'one')
    nodes = [
        helper.make_node('Cast', ['START'], ['start_f'], to=f),
        helper.make_node('Sub', ['one', 'start_f'], ['keep']),
        helper.make_node('Mul', ['STATE_IN', 'keep'], ['kept']),
        helper.make_node('Add', ['kept', 'INPUT'], ['OUTPUT']),
        helper.make_node('Identity', ['OUTPUT'], ['STATE_OUT']),
        *[helper.make_node('Identity', [c], [f'{c}_OUT']) for c in ('START', 'END', 'READY', 'CORRID')],
    ]
    inputs = [t('INPUT', f, 4), t('START', i, 1), t('END', i, 1), t('READY', i, 1), t('CORRID', TensorProto.UINT64, 1), t('STATE_IN', f, 4)]
    outputs = [t('OUTPUT', f, 4), t('STATE_OUT', f, 4), t('START_OUT', i, 1), t('END_OUT', i, 1), t('READY_OUT', i, 1),
               t('CORRID_OUT', TensorProto.UINT64, 1)]
    return _model(helper.make_graph(nodes, 'accumulate', inputs, outputs, [one]))


CONFIGS = {
    'add_sub': '''name: "add_sub"
backend: "onnxruntime"
max_batch_size: 8
input [
  { name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] },
  { name: "INPUT1" data_type: TYPE_FP32 dims: [ 4 ] }
]
output [
  { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 4 ] },
  { name: "OUTPUT1" data_type: TYPE_FP32 dims: [ 4 ] }
]
instance_group [ { kind: KIND_CPU count: 1 } ]
''',
    'strings': '''name: "strings"
backend: "onnxruntime"
max_batch_size: 0
input [ { name: "INPUT0" data_type: TYPE_STRING dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_STRING dims: [ -1 ] } ]
instance_group [ { kind: KIND_CPU count: 1 } ]
''',
    'int_scale': '''name: "int_scale"
backend: "onnxruntime"
max_batch_size: 4
input [ { name: "INPUT0" data_type: TYPE_INT32 dims: [ 3 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_INT32 dims: [ 3 ] } ]
instance_group [ { kind: KIND_CPU count: 1 } ]
''',
    'accumulate': '''name: "accumulate"
backend: "onnxruntime"
max_batch_size: 4
input [ { name: "INPUT" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [
  { name: "OUTPUT" data_type: TYPE_FP32 dims: [ 4 ] },
  { name: "START_OUT" data_type: TYPE_INT32 dims: [ 1 ] },
  { name: "END_OUT" data_type: TYPE_INT32 dims: [ 1 ] },
  { name: "READY_OUT" data_type: TYPE_INT32 dims: [ 1 ] },
  { name: "CORRID_OUT" data_type: TYPE_UINT64 dims: [ 1 ] }
]
sequence_batching {
  max_sequence_idle_microseconds: 5000000
  oldest { max_candidate_sequences: 4 }
  control_input [
    { name: "START" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] } ] },
    { name: "END" control [ { kind: CONTROL_SEQUENCE_END int32_false_true: [ 0, 1 ] } ] },
    { name: "READY" control [ { kind: CONTROL_SEQUENCE_READY int32_false_true: [ 0, 1 ] } ] },
    { name: "CORRID" control [ { kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_UINT64 } ] }
  ]
  state [ {
    input_name: "STATE_IN" output_name: "STATE_OUT" data_type: TYPE_FP32 dims: [ 4 ]
    initial_state { name: "zero" data_type: TYPE_FP32 dims: [ 4 ] zero_data: true }
  } ]
}
instance_group [ { kind: KIND_CPU count: 1 } ]
''',
}
CONFIGS['accumulate_direct'] = (CONFIGS['accumulate'].replace('name: "accumulate"', 'name: "accumulate_direct"')
                                .replace('oldest { max_candidate_sequences: 4 }', 'direct { }'))
BUILDERS = {'add_sub': add_sub, 'strings': strings, 'int_scale': int_scale, 'accumulate': accumulate, 'accumulate_direct': accumulate}


def write_repository(target: Path) -> None:
    """Writes TARGET: links to each committed model, then the extra models."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for model in sorted(p for p in (ROOT / 'model_repository').iterdir() if p.is_dir()):
        (target / model.name).symlink_to(model)
    for name, config in CONFIGS.items():
        (target / name / '1').mkdir(parents=True)
        (target / name / 'config.pbtxt').write_text(config)
        (target / name / '1' / 'model.onnx').write_bytes(BUILDERS[name]())

if __name__ == '__main__':
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    write_repository(Path(sys.argv[1]))
