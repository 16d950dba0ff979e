"""Triton python-backend model for the conformance repository's `strings` model under Triton:
OUTPUT0 = INPUT0, any BYTES tensor, unchanged.

Why not the ONNX Identity that the embedded server runs: triton-harness/onnx_model.py feeds the
python backend's BYTES elements (Python `bytes`) to onnxruntime, which turns each into its repr
("b'hello'"), so Triton would answer with mangled strings. This model leaves onnxruntime out, so
the answer is Triton's own BYTES handling (frontend, core, python backend), which is what the
conformance run compares.
"""
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        return [
            pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor('OUTPUT0', pb_utils.get_input_tensor_by_name(r, 'INPUT0').as_numpy())
            ])
            for r in requests
        ]
