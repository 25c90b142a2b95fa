"""Quantization-aware training stages (TF-MOT, 8-bit; ``lite_tf.compression.quantize``).

- ``qat``: fake-quantized training of a float run; the int8 export keeps its learned ranges.
- ``pqat``: prune-preserving QAT, for a pruned run: its zeros stay zeros in the int8 weights.
Both save ``model.h5`` (TF-MOT cannot reload a QAT model from .keras).
"""

from __future__ import annotations

from lite_tf.compression import stage
from lite_tf.compression.quantize import quantize_model
from lite_tf.errors import InputError


@stage.register
class QAT(stage.Stage):
    name, label, note = "qat", "QAT", "quantization-aware trained"
    quantized = True
    preserve_sparsity = False

    def check(self, options, precision: str) -> None:
        if precision != "float32":
            raise InputError(f"quantization-aware training needs precision 'float32', not "
                             f"{precision!r} (TF-MOT has no half-precision fake quantization)")

    def rebuild(self, model):
        return quantize_model(model, preserve_sparsity=self.preserve_sparsity)

    def prepare(self, net, options, context):
        return stage.Prepared(self.rebuild(net))


@stage.register
class PQAT(QAT):
    name, label, note = "pqat", "PQAT", "prune-preserving quantization-aware trained"
    preserve_sparsity = True
