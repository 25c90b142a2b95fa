"""Quantization-aware training stages (TF-MOT, 8-bit; ``lite_tf.compression.quantize``).

- ``qat``: fake-quantized training of a float run; the int8 export keeps its learned ranges.
- ``pqat``: prune-preserving QAT, for a pruned run: its zeros stay zeros in the int8 weights.
- ``cqat``: cluster-preserving QAT, for a ``cluster`` run: each kernel keeps its shared values.
- ``pcqat``: sparsity- and cluster-preserving QAT, for a ``cluster`` run with
  ``preserve_sparsity`` from a pruned run: zeros and clusters both survive into int8.
All save ``model.h5`` (TF-MOT cannot reload a QAT model from .keras); ``cqat`` and ``pcqat``
save it as a plain QAT model (their extra variables, centroids and masks, are only for training).
"""

from __future__ import annotations

from unittest import mock

import tensorflow_model_optimization as tfmot
from tensorflow_model_optimization.python.core.quantization.keras.collab_opts.cluster_preserve import (
    cluster_preserve_quantize_registry as cluster_registry)

from lite_tf.backend import tf
from lite_tf.compression import prune, stage
from lite_tf.compression.quantize import quantize_model, transfer_weights
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


class _ClusterPreserveRegistry(cluster_registry.Default8bitClusterPreserveQuantizeRegistry):
    """TF-MOT's registry with a weight quantizer per layer. TF-MOT 0.8 shares one among all
    layers, and the first layer it meets without zeros (the unpruned stem) switches sparsity
    preservation off for every later one: PCQAT then lost the pruned zeros (75% in float, 0% in
    int8 in all but one layer of a MobileNetV1-0.25)."""

    def __init__(self, preserve_sparsity):
        super().__init__(preserve_sparsity)
        self.preserve_sparsity = preserve_sparsity

    def get_quantize_config(self, layer):
        super().__init__(self.preserve_sparsity)  # fresh quantizers
        return super().get_quantize_config(layer)


class _ClusterPreserveScheme(tfmot.experimental.combine.Default8BitClusterPreserveQuantizeScheme):
    def get_quantize_registry(self):
        return _ClusterPreserveRegistry(self.preserve_sparsity)


def _per_kernel_centroids(layer, weight, data_format):
    """TF-MOT's ``get_centroids``, but one set of centroids per kernel, as ``cluster`` shares them.
    TF-MOT 0.8 gives a Conv2D one set per output channel when every channel holds about as many
    of the values (all 15 or 16 of 16), and trains them apart: the kernel then holds up to 16 per
    channel but hundreds in all (831 in a MobileNeXt-0.35 layer), and its int8 codes can no longer
    be shared (``lite_tf.deploy.codebook``)."""
    centroids, index = cluster_registry.get_unique(weight)
    return centroids, tf.size(centroids), index, False


def cluster_preserving(net, preserve_sparsity: bool):
    """``net`` (a clustered run's model) for (P)CQAT: fake-quantized, each kernel's shared values
    kept shared (their centroids train), and with ``preserve_sparsity`` its zeros kept zero."""
    with mock.patch.object(cluster_registry, "get_centroids", _per_kernel_centroids):
        return quantize_model(net, scheme=_ClusterPreserveScheme(preserve_sparsity))


@stage.register
class CQAT(QAT):
    """TF-MOT's Default8BitClusterPreserveQuantizeScheme: the fake-quantized kernels keep the
    clustered run's shared values (their centroids train), so int8 holds as many per channel."""

    name, label, note = "cqat", "CQAT", "cluster-preserving quantization-aware trained"
    parents = ("cluster",)

    def rebuild(self, model):
        return quantize_model(model)

    def prepare(self, net, options, context):
        if self.preserve_sparsity and prune.summary(net)["prunable_sparsity"] < 0.01:
            raise InputError(f"train.compress = {self.name!r} needs a clustered run that kept a "
                             f"pruned run's zeros (cluster.Clustering.preserve_sparsity = True); "
                             f"this one holds {prune.summary(net)['prunable_sparsity']:.1%} zeros")
        trained = cluster_preserving(net, self.preserve_sparsity)

        def final():
            plain = self.rebuild(net)
            transfer_weights(trained, plain)
            return plain

        return stage.Prepared(trained, final=final)


@stage.register
class PCQAT(CQAT):
    name, label, note = "pcqat", "PCQAT", "sparsity- and cluster-preserving quantization-aware trained"
    preserve_sparsity = True
