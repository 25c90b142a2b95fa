"""Compression stages (``train.compress``): what the trainer fits, with which callbacks, and
which model it saves when training ends.

- ``qat``: quantization-aware training (TF-MOT, 8-bit), saved as ``model.h5``.
- ``prune``: magnitude pruning (``lite_tf.prune``); the wrappers are stripped before saving, the
  per-layer sparsity goes into metrics.json.
- ``pqat``: prune-preserving QAT, for a pruned run: its zeros stay zeros in the int8 weights.
- ``distill``: knowledge distillation from a teacher run (``lite_tf.distill``); saves the student.
- ``channel_prune``: structured channel pruning (``lite_tf.channel_prune``): the thinner model is
  fine-tuned, and its ``channels`` are added to ``train.model_overrides`` in the run's config.gin,
  so later stages and exports rebuild it.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from lite_tf import channel_prune, distill, prune
from lite_tf.backend import keras
from lite_tf.errors import InputError
from lite_tf.quantize import quantize_model

COMPRESSIONS = (None, "qat", "prune", "pqat", "distill", "channel_prune")
QUANTIZED = ("qat", "pqat")  # fake-quantized models, saved as .h5 (TF-MOT cannot reload .keras)


def model_file(compress: str | None) -> str:
    return "model.h5" if compress in QUANTIZED else "model.keras"


@dataclasses.dataclass
class Stage:
    model: keras.Model  # what the trainer fits
    callbacks: list = dataclasses.field(default_factory=list)
    final: Callable[[], keras.Model] | None = None  # the model to save (default: ``model``)
    report: Callable[[keras.Model], dict] = lambda model: {}  # extra final metrics
    model_overrides: dict | None = None  # the architecture changed: train.model_overrides now

    def final_model(self) -> keras.Model:
        return self.final() if self.final else self.model


def check(compress: str | None, precision: str, *, pruning: prune.Pruning,
          distillation: distill.Distillation, channel_pruning: channel_prune.ChannelPruning) -> None:
    """InputError, in one line, for an unknown stage or bad stage settings."""
    if compress not in COMPRESSIONS:
        raise InputError(f"compress must be one of {COMPRESSIONS}, got {compress!r}")
    if compress in QUANTIZED and precision != "float32":
        raise InputError(f"quantization-aware training needs precision 'float32', not "
                         f"{precision!r} (TF-MOT has no half-precision fake quantization)")
    settings = {"prune": pruning, "distill": distillation, "channel_prune": channel_pruning}
    if compress in settings:
        settings[compress].check()


def make(compress: str | None, net, *, steps: int, pruning: prune.Pruning,
         distillation: distill.Distillation, channel_pruning: channel_prune.ChannelPruning,
         model_overrides: dict | None = None) -> Stage:
    """The stage for ``net`` (already holding its start weights) over ``steps`` training steps."""
    if compress in QUANTIZED:
        return Stage(quantize_model(net, preserve_sparsity=compress == "pqat"))
    if compress == "prune":
        pruned = prune.prune_model(net, pruning, steps)
        return Stage(pruned, prune.callbacks(), final=lambda: prune.strip(pruned),
                     report=lambda model: {"sparsity": prune.summary(model, pruning.skip)})
    if compress == "channel_prune":
        from lite_tf.profile import profile_model

        thin = channel_prune.prune_channels(net, channel_prune.plan(net, channel_pruning))
        before, after = profile_model(net), profile_model(thin)
        figures = {"params_before": before["trainable_params"], "params_after": after["trainable_params"],
                   "macs_before": before["macs"], "macs_after": after["macs"]}
        return Stage(thin, report=lambda model: {"channel_pruning": figures},
                     model_overrides={**(model_overrides or {}),
                                      "channels": channel_prune.channels(thin)})
    if compress == "distill":
        teacher = distill.load_teacher(distillation.teacher)
        return Stage(distill.Distiller(net, teacher, distillation), final=lambda: net)
    return Stage(net)
