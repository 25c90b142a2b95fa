"""Benchmark results as people read them: one markdown table over host and phone documents, and
an accuracy-vs-latency plot."""

from __future__ import annotations

import io

from lite_tf.deploy.benchmark.results import device_label


def _size(n: int) -> str:
    return f"{n / 2**20:.2f} MiB" if n >= 2**20 else f"{n / 1024:.1f} KiB"


def _rows(documents: list[dict]) -> list[dict]:
    """Every result of every document, with its device's label as ``device``."""
    return [dict(r, device=device_label(d["device"])) for d in documents for r in d["results"]]


def markdown(documents: list[dict]) -> str:
    """One table over the results of several documents (host and phones); the documents' errors
    (a delegate that could not run a model) are listed under it."""
    head = ("device", "model", "delegate", "threads", "size", "init ms", "first ms", "mean ms", "std",
            "p50", "p90", "p99", "model memory", "top-1", "agreement")
    lines = ["| " + " | ".join(head) + " |", "|---|---|---|" + "---:|" * (len(head) - 3)]
    for r in _rows(documents):
        lines.append("| " + " | ".join([
            r["device"], f"`{r['model']}`", r["delegate"], str(r["threads"]), _size(r["size_bytes"]),
            f"{r['init_ms']:.1f}", f"{r['first_inference_ms']:.2f}", f"{r['mean_ms']:.2f}",
            f"{r['std_ms']:.2f}", f"{r['p50_ms']:.2f}", f"{r['p90_ms']:.2f}", f"{r['p99_ms']:.2f}",
            "-" if r["model_memory_bytes"] is None else f"{r['model_memory_bytes'] / 2**20:.1f} MiB",
            percent(r["top1"]),
            "-" if r["agreement"] is None else f"{percent(r['agreement'])} of {r['samples']}"]) + " |")
    errors = [(device_label(d["device"]), e) for d in documents for e in d.get("errors", [])]
    if errors:
        lines += [""] + [f"- {label}: `{e['model']}` on {e['delegate']} with {e['threads']} "
                         f"thread{'s' * (e['threads'] > 1)} failed: {e['error']}" for label, e in errors]
    return "\n".join(lines) + "\n"


def percent(x) -> str:
    """A fraction as a table cell: '97.78%', or '-' when unknown."""
    return "-" if x is None else f"{100 * x:.2f}%"


def plot(documents: list[dict]) -> bytes | None:
    """PNG of accuracy vs p50 latency, one colour per device, delegate and thread count, marker
    area proportional to size; None when no result has a known top-1."""
    known = [r for r in _rows(documents) if r["top1"] is not None]
    if not known:
        return None
    import matplotlib  # noqa: PLC0415  (heavy: only when a plot is drawn)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    largest = max(r["size_bytes"] for r in known)
    several = len({r["device"] for r in known}) > 1
    for series in dict.fromkeys((r["device"], r["delegate"], r["threads"]) for r in known):
        group = [r for r in known if (r["device"], r["delegate"], r["threads"]) == series]
        device, delegate, threads = series
        ax.scatter([r["p50_ms"] for r in group], [100 * r["top1"] for r in group],
                   s=[40 + 460 * r["size_bytes"] / largest for r in group], alpha=0.6,
                   label=(f"{device}, " if several else "") + ("GPU" if delegate == "GPU" else (
                       "CPU, " if delegate == "CPU" else "") + f"{threads} thread{'s' * (threads > 1)}"))
    for model in dict.fromkeys((r["device"], r["path"]) for r in known):  # each model once per device
        points = [r for r in known if (r["device"], r["path"]) == model]
        ax.plot([r["p50_ms"] for r in points], [100 * r["top1"] for r in points], "k-", lw=0.5,
                alpha=0.4)
        ax.annotate(points[0]["model"], (points[0]["p50_ms"], 100 * points[0]["top1"]),
                    fontsize=7, xytext=(0, 9), textcoords="offset points", ha="center")
    if several:  # a phone and a desktop differ by an order of magnitude
        ax.set_xscale("log")
    ax.set_xlabel("p50 latency (ms, LiteRT)")
    ax.set_ylabel("top-1 (%)")
    ax.set_title("accuracy vs latency (marker area = model size)")
    ax.grid(alpha=0.3)
    for handle in ax.legend(loc="lower right").legend_handles:
        handle.set_sizes([40])
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png")
    plt.close(fig)
    return png.getvalue()
