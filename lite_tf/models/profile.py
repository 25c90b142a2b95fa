"""Complexity profiler: per-layer parameters, MACs and activation memory of a zoo model
(``lite-tf profile mobilenext_100 [--input-size 224] [--width 1.0] [--json]``).

MACs are multiply-accumulates of Conv2D (grouped too), DepthwiseConv2D and Dense layers, the
papers' convention (MAdds, ShuffleNet's FLOPs). Nothing else is counted: BatchNorm folds into the
preceding conv at export, and activations, pooling, adds, concats, shuffles and SE gating are
elementwise work, listed with 0 MACs. Activation bytes are each layer's float32 output at batch 1.
"""

from __future__ import annotations

import math

from lite_tf.backend import layers
from lite_tf.errors import InputError
from lite_tf.models import create_model, get_entry
from lite_tf.models.reference import REFERENCES


def layer_macs(layer) -> int:
    """Multiply-accumulates of one layer at batch 1 (0 for layers that are not conv/dense)."""
    out = layer.output_shape
    if isinstance(layer, layers.DepthwiseConv2D):  # before Conv2D: it subclasses it
        return math.prod(out[1:]) * math.prod(layer.kernel_size)
    if isinstance(layer, layers.Conv2D):
        in_channels = layer.input_shape[-1]
        return math.prod(out[1:]) * math.prod(layer.kernel_size) * in_channels // layer.groups
    if isinstance(layer, layers.Dense):
        return math.prod(out[1:]) * layer.input_shape[-1]
    return 0


def _count(weights) -> int:
    return int(sum(math.prod(w.shape) for w in weights))


def profile_model(model) -> dict:
    """Per-layer table and totals of a built model."""
    rows = []
    for layer in model.layers:
        shape = layer.output_shape
        shape = shape[0] if isinstance(shape, list) else shape
        rows.append({
            "name": layer.name,
            "type": type(layer).__name__,
            "output_shape": list(shape[1:]),
            "params": _count(layer.weights),
            "trainable_params": _count(layer.trainable_weights),
            "macs": layer_macs(layer),
            "activation_bytes": 4 * math.prod(shape[1:]),
        })
    return {
        "model": model.name,
        "input_shape": list(model.input_shape[1:]),
        "trainable_params": _count(model.trainable_weights),
        "total_params": _count(model.weights),
        "macs": sum(r["macs"] for r in rows),
        "activation_bytes": sum(r["activation_bytes"] for r in rows),
        "peak_activation_bytes": max(r["activation_bytes"] for r in rows),
        "layers": rows,
    }


def profile(name: str, input_size: int | None = None, width: float | None = None) -> dict:
    """Profile registered model ``name``; adds the published ``reference`` when comparable
    (default input size and width)."""
    entry = get_entry(name)
    overrides = {} if width is None else {"width": width}
    default_size = entry.default_input_shape[0]
    size = input_size or default_size
    model = create_model(name, input_shape=(size, size, 3), **overrides)
    result = profile_model(model)
    ref = REFERENCES.get(name)
    comparable = size == default_size and (width is None or width == entry.settings.get("width", 1.0))
    # The reference figures are at 1000 classes, MobileFaceNet's for its embedding network.
    if ref and comparable:
        result["reference"] = {
            "source": ref.source, "exact": ref.exact, "params": ref.params, "macs": ref.macs * 1e6,
            "params_ratio": result["trainable_params"] / ref.params if ref.params else None,
            "macs_ratio": result["macs"] / (ref.macs * 1e6), "top1": ref.top1,
        }
    return result


def _human(n: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(int(n))


def format_table(result: dict) -> str:
    rows = [("layer", "type", "output", "params", "MACs", "act bytes")]
    for r in result["layers"]:
        rows.append((r["name"], r["type"], "x".join(map(str, r["output_shape"])),
                     f"{r['params']:,}", f"{r['macs']:,}", f"{r['activation_bytes']:,}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    fmt = lambda row: "  ".join(  # noqa: E731
        c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
    lines = [fmt(rows[0]), "-" * len(fmt(rows[0]))] + [fmt(r) for r in rows[1:]]
    lines += ["", f"{result['model']} at {'x'.join(map(str, result['input_shape']))}: "
              f"{result['trainable_params']:,} trainable params ({result['total_params']:,} total), "
              f"{_human(result['macs'])} MACs, peak activation {_human(result['peak_activation_bytes'])}B"]
    ref = result.get("reference")
    if ref:
        params = (f"params {ref['params']:,} ({(ref['params_ratio'] - 1) * 100:+.2f}%)"
                  if ref["params"] else "params -")
        lines.append(f"reference ({ref['source']}): {params}, MACs {_human(ref['macs'])} "
                     f"({(ref['macs_ratio'] - 1) * 100:+.1f}%)"
                     + (f", ImageNet top-1 {ref['top1']:.1f}" if ref["top1"] else ""))
    return "\n".join(lines)
