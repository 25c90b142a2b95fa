"""PyTorch state_dicts -> zoo model tensors, through an explicit {zoo layer: state_dict prefix} map.

Layouts: Conv2d (out, in / groups, kh, kw) -> Conv2D (kh, kw, in / groups, out); depthwise
(C, 1, kh, kw) -> DepthwiseConv2D (kh, kw, C, 1); Linear (out, in) or a 1x1 Conv2d on a pooled
map (out, in, 1, 1) -> Dense (in, out); BatchNorm2d
weight, bias, running_mean, running_var -> gamma, beta, moving_mean, moving_variance.
"""

from __future__ import annotations

import numpy as np

from lite_tf.backend import layers
from lite_tf.errors import InputError
from lite_tf.weights.transfer import describe

TORCH_EXTRA = "pip install 'lite_tf[torch]'"  # torch==2.14.1 (the project's optional extra)


def read_checkpoint(path: str) -> dict[str, np.ndarray]:
    """A .pth/.pt/.tar checkpoint's tensors as numpy arrays (or a .safetensors file's, as timm
    publishes them); unwraps the ``state_dict`` / ``model`` entries training scripts save and the
    ``module.`` prefix of DataParallel."""
    if path.endswith(".safetensors"):
        return _read_safetensors(path)
    try:
        import torch  # optional (the torch extra) and heavy
    except ImportError:
        raise InputError(f"reading the PyTorch checkpoint {path} needs PyTorch: {TORCH_EXTRA}") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a missing, truncated or foreign file
        raise InputError(f"cannot read {path}: {str(e).strip().splitlines()[0][:200]}") from None
    while isinstance(state, dict):
        inner = next((state[k] for k in ("state_dict", "model", "model_state_dict")
                      if isinstance(state.get(k), dict)), None)
        if inner is None:
            break
        state = inner
    if not isinstance(state, dict):
        raise InputError(f"{path} holds a {type(state).__name__}, not a state_dict")
    return {k.removeprefix("module."): v.detach().cpu().numpy() for k, v in state.items()
            if hasattr(v, "detach")}


def _read_safetensors(path: str) -> dict[str, np.ndarray]:
    try:
        from safetensors import SafetensorError  # optional (the torch extra)
        from safetensors.numpy import load_file  # optional (the torch extra)
    except ImportError:
        raise InputError(f"reading {path} needs the safetensors package: {TORCH_EXTRA}") from None
    try:
        state = load_file(path)
    except (OSError, SafetensorError) as e:
        raise InputError(f"cannot read {path}: {str(e).strip().splitlines()[0][:200]}") from None
    return {k.removeprefix("module."): v for k, v in state.items()}


def sequential(prefix: str, parts) -> dict[str, str]:
    """The map for an ``nn.Sequential`` of conv, BatchNorm[, activation] runs: ``parts`` lists
    (zoo conv layer, whether an activation module follows its BatchNorm)."""
    names, i = {}, 0
    for layer, activation in parts:
        names[layer], names[f"{layer}_bn"] = f"{prefix}.{i}", f"{prefix}.{i + 1}"
        i += 3 if activation else 2
    return names


def _layer_tensors(layer, prefix: str, state: dict, used: set, missing: list) -> list:
    def take(suffix, axes=None):
        key = f"{prefix}.{suffix}"
        used.add(key)
        if key not in state:
            missing.append(key)
            return None
        tensor = state[key]  # of another rank: left as is, for assign_weights to report
        if axes and len(axes) == 2 and tensor.ndim == 4 and tensor.shape[2:] == (1, 1):
            tensor = tensor[:, :, 0, 0]  # a 1x1 conv after pooling (timm's conv_head) -> Dense
        return tensor.transpose(axes) if axes and tensor.ndim == len(axes) else tensor

    if isinstance(layer, layers.BatchNormalization):
        used.add(f"{prefix}.num_batches_tracked")
        return [take(s) for s in ("weight", "bias", "running_mean", "running_var")]
    if isinstance(layer, layers.DepthwiseConv2D):
        tensors = [take("weight", (2, 3, 0, 1))]
    elif isinstance(layer, layers.Conv2D):
        tensors = [take("weight", (2, 3, 1, 0))]
    elif isinstance(layer, layers.Dense):
        tensors = [take("weight", (1, 0))]
    else:
        raise InputError(f"{layer.name}: no PyTorch layout for {type(layer).__name__}")
    return tensors + ([take("bias")] if layer.use_bias else [])


def convert(model, state: dict[str, np.ndarray], names: dict[str, str], source: str):
    """``{zoo layer: tensors}`` for ``assign_weights`` from ``state`` through ``names``.

    Raises InputError naming every zoo layer the map leaves out, every state_dict key the map
    needs but ``state`` lacks, and every key of ``state`` no layer takes."""
    used, missing, unmapped, tensors = set(), [], [], {}
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name not in names:
            unmapped.append(layer.name)
            continue
        tensors[layer.name] = _layer_tensors(layer, names[layer.name], state, used, missing)
    extra = sorted(set(state) - used, key=list(state).index)
    problems = describe((("unmapped layers", unmapped), ("missing", missing), ("extra", extra)))
    if problems:
        raise InputError(f"cannot convert {source} into {model.name}: {problems}")
    return tensors
