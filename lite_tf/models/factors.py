"""Low-rank architectures: a convolution or Dense layer replaced by a product of smaller layers.

``with_factors(model, factors)`` rebuilds ``model`` with each named layer replaced as
``factors[name]`` says (``create_model(..., low_rank=factors)`` does it for a zoo model; the
weights come from ``lite_tf.compression.low_rank``). The last layer of each product keeps the
replaced layer's name, bias and activation, so everything that reads it is unchanged:

- ``{'method': 'svd', 'rank': r}``: a 1x1 convolution or Dense layer C_in -> C_out as C_in -> r
  (``<name>_svd``, with the layer's stride) -> C_out (Denton et al. 2014, Zhang et al. 2015).
- ``{'method': 'tucker2', 'rank': [r_in, r_out]}``: a k x k convolution as 1x1 C_in -> r_in
  (``<name>_in``) -> k x k r_in -> r_out (``<name>_core``, the layer's stride, padding and
  dilation) -> 1x1 r_out -> C_out (Kim et al. 2016, "Compression of Deep Convolutional Neural
  Networks for Fast and Low Power Mobile Applications").
- ``{'method': 'spatial', 'rank': r}``: a k x k convolution as k x 1 C_in -> r (``<name>_kx1``)
  -> 1 x k r -> C_out (Jaderberg et al. 2014, "Speeding up Convolutional Neural Networks with Low
  Rank Expansions", scheme 2); each keeps the stride, padding and dilation of its own axis.
"""

from __future__ import annotations

import copy
import math

from lite_tf.backend import keras, layers
from lite_tf.errors import InputError

METHODS = ("svd", "tucker2", "spatial")
SUFFIXES = {"svd": ("_svd",), "tucker2": ("_in", "_core"), "spatial": ("_kx1",)}


def names(name: str, method: str) -> list[str]:
    """The layers that replace layer ``name``, in order (the last keeps its name)."""
    return [name + s for s in SUFFIXES[method]] + [name]


def method_for(layer) -> str | None:
    """How ``layer`` factorizes: 'svd' (Dense, 1x1 convolution), 'kxk' (a larger convolution:
    'tucker2' or 'spatial'), None (depthwise, grouped, or not a convolution or Dense)."""
    if isinstance(layer, layers.Dense):
        return "svd"
    if type(layer) is not layers.Conv2D or layer.groups != 1:  # depthwise, transposed, grouped
        return None
    return "svd" if tuple(layer.kernel_size) == (1, 1) else "kxk"


def max_rank(layer, method: str) -> tuple[int, ...]:
    """The largest rank(s) ``method`` can give ``layer`` (at which it is exact)."""
    c_in, c_out = layer.input_shape[-1], (layer.units if isinstance(layer, layers.Dense) else layer.filters)
    if method == "svd":
        return (min(c_in, c_out),)
    if method == "tucker2":
        return c_in, c_out
    kh, kw = layer.kernel_size
    return (min(kh * c_in, kw * c_out),)


def ranks(spec: dict) -> tuple[int, ...]:
    """A factor spec's rank(s) as a tuple (tucker2: (r_in, r_out); an int r stands for (r, r))."""
    rank = spec["rank"]
    if spec["method"] == "tucker2":
        return tuple(rank) if isinstance(rank, (list, tuple)) else (rank, rank)
    return (rank,)


def check(model, factors: dict[str, dict]) -> None:
    """InputError, in one line, for a factor spec ``model`` cannot take."""
    known = {layer.name: layer for layer in model.layers}
    for name, spec in factors.items():
        layer = known.get(name)
        if layer is None:
            raise InputError(f"{model.name} has no layer {name!r} to factorize")
        if not isinstance(spec, dict) or spec.get("method") not in METHODS or "rank" not in spec:
            raise InputError(f"low-rank factors of {name} must be {{'method': one of "
                             f"{', '.join(METHODS)}, 'rank': ...}}, got {spec!r}")
        kind, method = method_for(layer), spec["method"]
        if kind is None or (kind == "svd") != (method == "svd") or len(layer.inbound_nodes) != 1:
            can = {"svd": "'svd'", "kxk": "'tucker2' or 'spatial'"}.get(kind, "no method")
            raise InputError(f"{name} ({type(layer).__name__}"
                             f"{'' if kind is None else ' ' + 'x'.join(map(str, getattr(layer, 'kernel_size', ())))})"
                             f" takes {can}, not {method!r}")
        rank = ranks(spec)
        most = max_rank(layer, method)
        if len(rank) != len(most) or not all(isinstance(r, int) and not isinstance(r, bool) for r in rank):
            raise InputError(f"the rank of {name} ({method}) must be {len(most)} integer(s), got {spec['rank']!r}")
        if any(not 1 <= r <= m for r, m in zip(rank, most)):
            bound = " x ".join(map(str, most))
            raise InputError(f"rank {spec['rank']} of {name} is larger than the layer allows "
                             f"({method}: 1 to {bound})" if any(r > m for r, m in zip(rank, most))
                             else f"rank {spec['rank']} of {name} must be >= 1")


def macs(layer, method: str, rank: tuple[int, ...]) -> int:
    """Multiply-accumulates of ``layer`` factorized by ``method`` at ``rank`` (batch 1)."""
    c_in = layer.input_shape[-1]
    if isinstance(layer, layers.Dense):
        return math.prod(layer.output_shape[1:-1]) * rank[0] * (c_in + layer.units)
    out = math.prod(layer.output_shape[1:3])
    c_out, (kh, kw) = layer.filters, layer.kernel_size
    if method == "svd":
        return out * rank[0] * (c_in + c_out)
    if method == "tucker2":
        return (math.prod(layer.input_shape[1:3]) * c_in * rank[0]
                + out * (kh * kw * rank[0] * rank[1] + rank[1] * c_out))
    # spatial: k x 1 at the output's rows and the input's columns, then 1 x k at the output size
    return layer.output_shape[1] * layer.input_shape[2] * kh * c_in * rank[0] + out * kw * rank[0] * c_out


def _entries(entry: dict, spec: dict) -> list[dict]:
    """Config entries of the layers replacing ``entry``: 'linear' and bias-free but the last."""
    base, method, rank = entry["config"], spec["method"], ranks(spec)
    conv = entry["class_name"] != "Dense"
    chain = names(base["name"], method)

    def layer(name, inbound, **changes):
        config = copy.deepcopy(base)
        config.update(name=name, **changes)
        if name != base["name"]:
            config.update(use_bias=False, activation="linear")
        return {"class_name": entry["class_name"], "config": config, "name": name,
                "inbound_nodes": [inbound]}

    one = dict(kernel_size=(1, 1), strides=(1, 1), padding="valid", dilation_rate=(1, 1))
    if method == "svd":
        first = {"filters": rank[0]} if conv else {"units": rank[0]}
        last = dict(one) if conv else {}
        parts = [first, last]
    elif method == "tucker2":
        parts = [dict(one, filters=rank[0]), {"filters": rank[1]}, dict(one)]
    else:
        (kh, kw), (sh, sw), (dh, dw) = base["kernel_size"], base["strides"], base["dilation_rate"]
        parts = [{"filters": rank[0], "kernel_size": (kh, 1), "strides": (sh, 1), "dilation_rate": (dh, 1)},
                 {"kernel_size": (1, kw), "strides": (1, sw), "dilation_rate": (1, dw)}]
    out, inbound = [], entry["inbound_nodes"][0]
    for name, changes in zip(chain, parts):
        out.append(layer(name, inbound, **changes))
        inbound = [[name, 0, 0, {}]]
    return out


def with_factors(model, factors: dict[str, dict]):
    """``model``'s architecture with each layer named in ``factors`` replaced by its low-rank
    product (fresh weights in the new layers)."""
    check(model, factors)
    config = model.get_config()
    rewritten = []
    for entry in config["layers"]:
        spec = factors.get(entry["config"]["name"])
        rewritten += _entries(entry, spec) if spec else [entry]
    config["layers"] = rewritten
    return keras.Model.from_config(config)
