"""Quantization-aware training with TF-MOT for every zoo model.

TF-MOT's default 8-bit registry has no entry for ``Multiply`` (squeeze-and-excite gates),
``PReLU`` (MobileFaceNet, ENet) or the zoo's ``HardSwish`` / ``HardSigmoid`` layers (MobileNetV3).
``quantize_model`` annotates those with the QuantizeConfigs below (the hard activations, like
``Multiply``, quantize their output only, so the converter still fuses hard-swish into one
``HARD_SWISH`` op) and leaves every other layer to TF-MOT's defaults, then applies TF-MOT's default scheme.
``quantize_model(model, preserve_sparsity=True)`` is prune-preserving QAT. Reload a QAT model
from a checkpoint or ``.h5`` inside ``quantize_scope()``: TF-MOT cannot reload one from ``.keras``.
"""

from __future__ import annotations

import tensorflow_model_optimization as tfmot

from lite_tf.backend import keras, layers
from lite_tf.blocks.activations import HardSigmoid, HardSwish

_q = tfmot.quantization.keras


def _activation_quantizer():
    return _q.quantizers.MovingAverageQuantizer(num_bits=8, per_axis=False, symmetric=False,
                                                narrow_range=False)


@keras.utils.register_keras_serializable(package="lite_tf")
class OutputQuantizeConfig(_q.QuantizeConfig):
    """No weights; quantize the output (elementwise layers such as Multiply, like TF-MOT's Add)."""

    def get_weights_and_quantizers(self, layer):
        return []

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        pass

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        return [_activation_quantizer()]

    def get_config(self):
        return {}


@keras.utils.register_keras_serializable(package="lite_tf")
class PReLUQuantizeConfig(OutputQuantizeConfig):
    """PReLU: 8-bit slope (TFLite's int8 PRELU takes an int8 alpha) and 8-bit output."""

    def get_weights_and_quantizers(self, layer):
        return [(layer.alpha, _q.quantizers.LastValueQuantizer(
            num_bits=8, per_axis=False, symmetric=False, narrow_range=False))]

    def set_quantize_weights(self, layer, quantize_weights):
        layer.alpha = quantize_weights[0]


CUSTOM_CONFIGS = {layers.Multiply: OutputQuantizeConfig, layers.PReLU: PReLUQuantizeConfig,
                  HardSwish: OutputQuantizeConfig, HardSigmoid: OutputQuantizeConfig}


def quantize_scope():
    """Scope in which QAT models (and their custom QuantizeConfigs) deserialize."""
    return _q.quantize_scope({c.__name__: c for c in CUSTOM_CONFIGS.values()})


def annotate(model):
    """Clone ``model`` with every layer annotated for QAT, sharing its weights."""
    def clone(layer):
        config = CUSTOM_CONFIGS.get(type(layer))
        return _q.quantize_annotate_layer(layer, config() if config else None)
    return keras.models.clone_model(model, clone_function=clone)


def quantize_model(model, preserve_sparsity: bool = False, scheme=None):
    """TF-MOT's ``quantize_model`` for any zoo model: fake-quantized, trainable, same weights.
    ``preserve_sparsity``: prune-preserving QAT (TF-MOT's Default8BitPrunePreserveQuantizeScheme),
    which keeps a pruned model's zero weights zero through training and into the int8 weights.
    ``scheme``: another TF-MOT QuantizeScheme (cluster-preserving, low-bit weights)."""
    if scheme is None:
        scheme = (tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme()
                  if preserve_sparsity else _q.default_8bit.Default8BitQuantizeScheme())
    with quantize_scope():
        return _q.quantize_apply(annotate(model), scheme)


def _short(layer, variable) -> str:
    """The variable's name within its layer (TF-MOT's input quantize layer names its range
    after itself: 'quantize_layer_1_min')."""
    return variable.name.rsplit("/", 1)[-1].split(":")[0].removeprefix(f"{layer.name}_")


def transfer_weights(source, target) -> None:
    """Copy into ``target`` the weights of ``source``, two QAT models of one network under
    different schemes: layer by layer (TF-MOT names the input's quantize layer by count), weight
    by name, leaving the source's extra variables (cluster centroids, masks) behind."""
    if [type(l) for l in source.layers] != [type(l) for l in target.layers]:  # noqa: E741
        raise ValueError(f"{source.name} and {target.name} are not the same network")
    for mine, theirs in zip(target.layers, source.layers):
        found = {_short(theirs, v): v for v in theirs.weights}
        for v in mine.weights:
            if _short(mine, v) not in found:
                raise ValueError(f"{source.name} has no weight {_short(mine, v)} in {theirs.name}")
            v.assign(found[_short(mine, v)])
