"""Latency breakdown: where a model's int8 time goes on this host, unit by unit (stem, each block,
head), with the ops each unit became and those XNNPACK left to TFLite's own kernels
(``lite-tf profile MODEL --latency``).

Each unit is timed as the search's latency table times it (``lite_tf.search.latency``: its own
int8 model, the benchmark's measuring code, the fastest of three fresh processes, less the
per-invoke overhead), so a table file given with ``--table`` is shared with searches; the whole
model is timed beside it, so the sum of the parts can be checked against it.

By kernel (``--by kernel``): every convolution and dense layer timed alone the same way, summed
by the kind of kernel XNNPACK runs for it (conv 1x1, depthwise 3x3, grouped conv, ...), so the
work per millisecond of each kind shows which kernel sets a model's floor, and the rest of the
time is what runs between them.
"""

from __future__ import annotations

import collections
import os
import tempfile

from lite_tf.deploy.benchmark.results import device_label
from lite_tf.backend import layers
from lite_tf.deploy.convert import write_random_int8
from lite_tf.models.profile import layer_macs
from lite_tf.models.units import layer_unit
from lite_tf.search import latency


def breakdown(model, threads: int = 1, table: str | None = None, progress=None) -> dict:
    """Time ``model``'s units (those ``table`` lacks; None: a table in memory) and the whole
    model in int8 on this host at ``threads``."""
    found = latency.LatencyTable.open(table, threads)
    found.measure([model], progress=progress)
    size, measured = _whole(model, threads, progress)
    macs = {layer.name: layer_macs(layer) for layer in model.layers}
    rows = []
    for unit, ms in found.breakdown(model):
        entry = found.entries[unit.key]
        unit_macs = sum(macs[name] for name in unit.layers)
        rows.append({"unit": unit.name, "input": list(unit.input_shape),
                     "output": list(unit.output_shape), "ms": ms, "macs": unit_macs,
                     "gmac_per_s": unit_macs / ms / 1e6 if ms > 0 else None,
                     "ops": entry["ops"], "outside_xnnpack": entry.get("outside_xnnpack", [])})
    predicted = found.predict(model)
    return {"model": model.name, "input_shape": list(model.input_shape[1:]), "threads": threads,
            "device": found.device, "tflite_bytes": size,
            "overhead_ms": found.overhead_ms, "predicted_ms": predicted, "measured_ms": measured,
            "macs": sum(macs.values()), "units": rows}


def _whole(model, threads: int, progress) -> tuple[int, float]:
    """The whole model's int8 size (bytes) and latency (ms), timed as its units are."""
    if progress:
        progress(f"timing the whole {model.name}")
    with tempfile.TemporaryDirectory() as tmp:
        path = write_random_int8({model.name: model}, tmp)[model.name]
        _, (measured,) = latency.host_measurer(threads)([path])
        return os.path.getsize(path), measured


def kernel_kind(layer) -> str | None:
    """What kind of kernel XNNPACK runs for ``layer`` ('conv 1x1', 'depthwise 3x3 stride 2',
    'grouped conv 1x1 (3 groups)', 'dense'), None for a layer that is not a convolution or dense."""
    if isinstance(layer, layers.Dense):
        return "dense"
    if isinstance(layer, layers.DepthwiseConv2D):  # before Conv2D: it subclasses it
        kind = "depthwise"
    elif isinstance(layer, layers.Conv2D):
        kind = "conv" if layer.groups == 1 else "grouped conv"
    else:
        return None
    kind += " " + "x".join(map(str, layer.kernel_size))
    if kind.startswith("grouped"):
        kind += f" ({layer.groups} groups)"
    return kind + (f" stride {layer.strides[0]}" if max(layer.strides) > 1 else "")


def kernels(model, threads: int = 1, table: str | None = None, progress=None) -> dict:
    """Where ``model``'s int8 time goes by kernel kind on this host: every convolution and dense
    layer timed on its own (its BatchNorm folds into it and its ReLU fuses in int8), summed by
    ``kernel_kind``, against the whole model; the rest of the time is what runs between them
    (adds, concatenations, shuffles, pooling, unfused activations)."""
    found = latency.LatencyTable.open(table, threads)
    timed = [(layer, layer_unit(model, layer.name)) for layer in model.layers if kernel_kind(layer)]
    found.measure_units([(model, u) for _, u in timed], progress=progress)
    size, measured = _whole(model, threads, progress)
    kinds: dict[str, dict] = {}
    for layer, u in timed:
        row = kinds.setdefault(kernel_kind(layer), {"kernel": kernel_kind(layer), "layers": 0,
                                                    "macs": 0, "ms": 0.0})
        row["layers"] += 1
        row["macs"] += layer_macs(layer)
        row["ms"] += max(0.0, found.entries[u.key]["ms"] - found.overhead_ms)
    rows = sorted(kinds.values(), key=lambda r: -r["ms"])
    for r in rows:
        r["gmac_per_s"] = r["macs"] / r["ms"] / 1e6 if r["ms"] > 0 else None
    in_kernels = sum(r["ms"] for r in rows)
    return {"model": model.name, "input_shape": list(model.input_shape[1:]), "threads": threads,
            "device": found.device, "tflite_bytes": size, "overhead_ms": found.overhead_ms,
            "measured_ms": measured, "macs": sum(layer_macs(layer) for layer in model.layers),
            "kernels": rows, "between_kernels_ms": measured - found.overhead_ms - in_kernels}


def _where(device: dict) -> str:
    return device["cpu"] if device["kind"] == "host" else device_label(device)


def _ops(ops: list[str]) -> str:
    counts = collections.Counter(ops)
    return ", ".join(f"{op} x{n}" if n > 1 else op for op, n in counts.items())


def format_table(result: dict) -> str:
    rows = [("unit", "input", "ms", "share", "MMACs", "GMAC/s", "ops", "outside XNNPACK")]
    total = sum(r["ms"] for r in result["units"]) or 1.0
    for r in result["units"]:
        rows.append((r["unit"], "x".join(map(str, r["input"])), f"{r['ms']:.3f}",
                     f"{r['ms'] / total:.1%}", f"{r['macs'] / 1e6:.1f}",
                     f"{r['gmac_per_s']:.0f}" if r["gmac_per_s"] else "-", _ops(r["ops"]),
                     _ops(r["outside_xnnpack"]) or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    fmt = lambda row: "  ".join(  # noqa: E731
        c.ljust(w) if i in (0, 1, 6, 7) else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
    lines = [fmt(rows[0]), "-" * len(fmt(rows[0]))] + [fmt(r) for r in rows[1:]]
    measured, predicted = result["measured_ms"], result["predicted_ms"]
    lines += ["", f"{result['model']} at {'x'.join(map(str, result['input_shape']))}, int8, "
                  f"{result['threads']} thread(s) on {_where(result['device'])}: measured {measured:.3f} ms "
                  f"({result['macs'] / measured / 1e6:.0f} GMAC/s), units sum to {predicted:.3f} ms "
                  f"(with {result['overhead_ms']:.3f} ms per-invoke overhead; "
                  f"{(predicted / measured - 1) * 100:+.1f}%)"]
    outside = sorted({op for r in result["units"] for op in r["outside_xnnpack"]})
    if outside:
        lines.append(f"outside XNNPACK (TFLite's own kernels, each splitting the graph): {', '.join(outside)}")
    return "\n".join(lines)


def format_kernels(result: dict) -> str:
    """``kernels``' result as a table, a line for the time between the kernels and a summary."""
    measured = result["measured_ms"]
    rows = [("kernel", "layers", "MMACs", "ms", "share", "GMAC/s")]
    for r in result["kernels"]:
        rows.append((r["kernel"], str(r["layers"]), f"{r['macs'] / 1e6:.1f}", f"{r['ms']:.3f}",
                     f"{r['ms'] / measured:.1%}",
                     f"{r['gmac_per_s']:.0f}" if r["gmac_per_s"] else "-"))
    between = result["between_kernels_ms"]
    rows.append(("between the kernels", "", "", f"{between:.3f}", f"{between / measured:.1%}", ""))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    fmt = lambda row: "  ".join(  # noqa: E731
        c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
    lines = [fmt(rows[0]), "-" * len(fmt(rows[0]))] + [fmt(r) for r in rows[1:]]
    in_kernels = sum(r["ms"] for r in result["kernels"])
    lines += ["", f"{result['model']} at {'x'.join(map(str, result['input_shape']))}, int8, "
                  f"{result['threads']} thread(s) on {_where(result['device'])}: measured {measured:.3f} ms "
                  f"({result['macs'] / measured / 1e6:.0f} GMAC/s); its convolutions and dense layers "
                  f"timed one by one take {in_kernels:.3f} ms ({result['macs'] / in_kernels / 1e6:.0f} "
                  f"GMAC/s), with {result['overhead_ms']:.3f} ms per-invoke overhead taken off each"]
    return "\n".join(lines)
