"""Weight clustering with TF-MOT (weight sharing: Han et al., "Deep Compression", 2016).

``cluster`` fine-tunes with each chosen layer's kernel (convolutions and dense layers but
depthwise ones, the stem and the classifier, as pruning chooses) tied to ``clusters`` shared
values (centroids, k-means++ initialized, trained), then strips the wrappers: every kernel holds
at most that many distinct values, which gzip stores in about log2(clusters) bits per weight.
``preserve_sparsity`` (from a pruned run) keeps the zeros zero. The int8 export codes each shared
value alike in every output channel (``lite_tf.deploy.codebook``). ``cqat`` and ``pcqat``
(``lite_tf.compression.qat``) then train the clustered model with 8-bit fake quantization,
clusters (and zeros) preserved.
"""

from __future__ import annotations

import dataclasses

import gin
import numpy as np
import tensorflow_model_optimization as tfmot
from tensorflow_model_optimization.python.core.clustering.keras.experimental import (
    cluster as experimental)

from lite_tf.backend import keras
from lite_tf.checks import at_least, field, validate
from lite_tf.compression import prune, stage
from lite_tf.errors import InputError

_c = tfmot.clustering.keras


@gin.configurable(module="cluster")
@dataclasses.dataclass(frozen=True)
class Clustering:
    """``clusters`` shared values per clustered kernel; layers whose name starts with one of
    ``skip`` stay unclustered, as do depthwise convolutions and the classifier;
    ``preserve_sparsity`` keeps a pruned run's zeros (TF-MOT's sparsity-preserving clustering)."""

    clusters: int = field(16, at_least(2))
    preserve_sparsity: bool = False
    skip: tuple[str, ...] = ("stem",)

    def check(self) -> None:
        validate(self, "cluster.Clustering")


def clustered_layers(model, skip=("stem",)) -> list[str]:
    return [layer.name for layer in model.layers if prune.prunable(layer, skip)]


def cluster_model(model, clustering: Clustering):
    """``model`` with TF-MOT clustering wrappers on its chosen layers (sharing its weights)."""
    names = set(clustered_layers(model, clustering.skip))
    if not names:
        raise InputError(f"cluster.Clustering leaves nothing to cluster in {model.name}")
    if clustering.preserve_sparsity:
        zeros = prune.summary(model, clustering.skip)["prunable_sparsity"]
        if zeros < 0.01:
            raise InputError(f"cluster.Clustering.preserve_sparsity needs a pruned run to start "
                             f"from (train.init_from): {model.name}'s layers hold {zeros:.1%} zeros")
    small = [l.name for l in model.layers if l.name in names  # noqa: E741
             if int(np.prod(l.kernel.shape)) < clustering.clusters]
    if small:
        raise InputError(f"cluster.Clustering.clusters = {clustering.clusters} is more than the "
                         f"weights of {small[0]}")
    options = dict(number_of_clusters=clustering.clusters,
                   cluster_centroids_init=_c.CentroidInitialization.KMEANS_PLUS_PLUS)

    def wrap(layer):
        if layer.name not in names:
            return layer
        if clustering.preserve_sparsity:
            return experimental.cluster_weights(layer, preserve_sparsity=True, **options)
        return _c.cluster_weights(layer, **options)

    with _c.cluster_scope():
        return keras.models.clone_model(model, clone_function=wrap)


@stage.register
class Cluster(stage.Stage):
    """``cluster``: fine-tune with clustered kernels, save the stripped model."""

    name, label, note = "cluster", "cluster", "weight-clustered"
    settings = Clustering

    def prepare(self, net, options: Clustering, context):
        clustered = cluster_model(net, options)
        names = clustered_layers(net, options.skip)

        def report(saved):
            values = prune.distinct_values(saved, names)
            return {"clusters": {"clusters": options.clusters, "layers": len(names),
                                 "most_values_per_channel": max(values.values()),
                                 "sparsity": prune.summary(saved, options.skip)["prunable_sparsity"]}}

        return stage.Prepared(clustered, final=lambda: _c.strip_clustering(clustered), report=report)

    def summary(self, final):
        c = final["clusters"]
        return [("clusters", f"{c['clusters']} per kernel in {c['layers']} layers (at most "
                             f"{c['most_values_per_channel']} values per channel), "
                             f"{c['sparsity']:.1%} zeros")]
