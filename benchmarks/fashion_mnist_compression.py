"""The compression figures on Fashion-MNIST: one base run through every stage, measured alike.

    python benchmarks/fashion_mnist_compression.py BASE [--root runs/fashion_mnist_compression]
        [--steps STEP ...] [--int16x8] [--out docs/fashion_mnist_compression.md]
        [--gin_bindings BINDING ...]

BASE is a finished ``--config fashion_mnist`` run. From it, each step of ``STEPS`` trains with its
``configs/fashion_mnist_*.gin`` in its own run directory ``ROOT/<step>`` (QAT; 75% block pruning,
then PQAT from it, or sparsity-preserving clustering and PCQAT; channel pruning; the distilled
student and the same student alone; 4-bit, ternary and binary weights), skipping finished steps
and resuming an interrupted one, so it can run in the background across sessions. Every run is
exported to int8 and measured by ``lite_tf.deploy.report`` (float and int8 top-1 on the 10,000
test images, gzip size, host int8 latency), and each bar of the Fashion-MNIST and fewer-bits
issues is checked against the base; ``--int16x8`` also exports the base with int16 activations
and compares its top-1 and latency with its int8 export. The table, the checks and the figures
(JSON) are rewritten after each step.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import sys

import gin

from lite_tf import files, rundir
from lite_tf.compression import prune
from lite_tf.deploy import report
from lite_tf.deploy.benchmark.render import percent
from lite_tf.deploy.export import export
from lite_tf.errors import InputError
from lite_tf.deploy.benchmark import host, results
from lite_tf.training.launch import launch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STUDENT = "mobilenet_v2_050"  # as configs/fashion_mnist_distill.gin


@dataclasses.dataclass(frozen=True)
class Step:
    """A run made from the base: ``config`` started from ``parent`` (a step name, 'base', or None
    for a run from scratch), with extra ``bindings``; ``{base}`` in them is the base's workdir."""

    name: str
    config: str
    parent: str | None
    bindings: tuple[str, ...] = ()


STEPS = (
    Step("qat", "fashion_mnist_qat", "base"),
    Step("prune", "fashion_mnist_prune", "base"),
    Step("pqat", "fashion_mnist_pqat", "prune"),
    Step("channel_prune", "fashion_mnist_channel_prune", "base"),
    Step("student_alone", "fashion_mnist", None, (f"train.model = {STUDENT!r}", "train.epochs = 10")),
    Step("distill", "fashion_mnist_distill", None, ("distill.Distillation.teacher = '{base}'",)),
    Step("lowbit", "fashion_mnist_lowbit", "base"),
    Step("ternary", "fashion_mnist_ternary", "base"),
    Step("binary", "fashion_mnist_binary", "base"),
    Step("sparse_cluster", "fashion_mnist_sparse_cluster", "prune"),
    Step("pcqat", "fashion_mnist_pcqat", "sparse_cluster"),
)


def train(step: Step, workdirs: dict[str, str], bindings: list[str]) -> None:
    """Train ``step`` in ``workdirs[step.name]`` unless finished there (unfinished: resumed)."""
    if rundir.RunDir(workdirs[step.name]).finished():
        return
    own = [b.replace("{base}", workdirs["base"]) for b in step.bindings]
    try:
        launch([step.config], [*own, "train.verbose = 2", *bindings], workdirs[step.name],
               init_from=workdirs[step.parent] if step.parent else None)
    finally:
        gin.clear_config()


def checks(rows: dict[str, dict]) -> list[tuple[str, str, bool]]:
    """(what, measured, met) for each bar of the issue that the finished steps allow."""
    base = rows["base"]
    latency_ratio = rows.get("channel_prune", {}).get("latency_ratio")
    out = []

    def points(a, b):
        return 100 * (a - b)

    if "qat" in rows:
        d = points(rows["qat"]["int8_top1"], base["float_top1"])
        out.append(("QAT int8 within 0.3 points of the float base", f"{d:+.2f} points", d >= -0.3))
    if "pqat" in rows:
        d = points(rows["pqat"]["int8_top1"], base["float_top1"])
        out.append(("75% block pruning + PQAT int8 within 1.0 point of the float base",
                    f"{d:+.2f} points", d >= -1.0))
        ratio = rows["pqat"]["gzip_bytes"] / base["gzip_bytes"]
        out.append(("... its gzip <= 0.45x the dense int8 model's gzip", f"{ratio:.3f}x",
                    ratio <= 0.45))
    if "channel_prune" in rows and latency_ratio is not None:
        d = points(rows["channel_prune"]["int8_top1"], base["float_top1"])
        out.append(("channel pruning: host int8 latency <= 0.7x the base's", f"{latency_ratio:.3f}x",
                    latency_ratio <= 0.7))
        out.append(("... at <= 1.0 point (its int8 against the float base)", f"{d:+.2f} points",
                    d >= -1.0))
    if "distill" in rows and "student_alone" in rows:
        d = points(rows["distill"]["float_top1"], rows["student_alone"]["float_top1"])
        ratio = rows["distill"]["macs"] / base["macs"]
        out.append((f"distillation into {STUDENT} ({ratio:.2f}x the MACs, <= 1/3) gains >= 0.5 "
                    f"points over it alone (float)", f"{d:+.2f} points", d >= 0.5 and ratio <= 1 / 3))
    for step, what, points_bar, gzip_bar in (("lowbit", "4-bit weights", 1.0, 0.55),
                                             ("ternary", "ternary weights", 2.0, 0.30),
                                             ("binary", "binary weights", None, None),
                                             ("pcqat", "75% zeros + 16 clusters (PCQAT)", 1.5, 0.25)):
        if step in rows:
            d = points(rows[step]["int8_top1"], base["float_top1"])
            ratio = rows[step]["gzip_bytes"] / base["gzip_bytes"]
            out.append((f"{what}: int8 within {points_bar} points of the float base" if points_bar
                        else f"{what}: int8 against the float base", f"{d:+.2f} points",
                        d >= -points_bar if points_bar else None))
            out.append((f"... gzip <= {gzip_bar}x the dense int8 model's" if gzip_bar
                        else "... gzip against the dense int8 model's", f"{ratio:.3f}x",
                        ratio <= gzip_bar if gzip_bar else None))
    if "pcqat" in rows:
        kernels = rows["pcqat"]["pruned_kernels"]
        out.append(("... its pruned int8 kernels: <= 16 values each, >= 74% zeros",
                    f"{kernels['most_values']} values ({kernels['most_values_per_channel']} per "
                    f"output channel), {kernels['zeros']:.1%} zeros",
                    kernels["most_values"] <= 16 and kernels["zeros"] >= 0.74))
    return out


def pruned_kernels(workdir: str) -> dict:
    """The most values of any kernel and of any output channel and the zeros of the int8
    kernels of the layers a pruning stage prunes (but the stem), from the run's export report."""
    weights = [w for w in report.int8_report(rundir.find_run(workdir))["weights"]
               if prune.prunable_name(w["layer"]) and w["layer"] != "stem" and w["op"] != "DEPTHWISE_CONV_2D"]
    return {"most_values": max(w["values"] for w in weights),
            "most_values_per_channel": max(w["most_values_per_channel"] for w in weights),
            "zeros": sum(w["zeros"] * w["size"] for w in weights) / sum(w["size"] for w in weights)}


def int16x8(base: str, folder: str, runs: int) -> dict:
    """The base exported with int16 activations (int8 weights) to ``folder``, beside its int8
    export: top-1 of each and their host latency (alternating rounds, 1 thread)."""
    run = rundir.find_run(base)
    wide = export(run, "int16x8", out_dir=folder, progress=lambda _: None)
    narrow = report.int8_report(run)
    p50 = host.median_p50({"int8": report.int8_file(run),
                           "int16x8": os.path.join(folder, wide["file"])}, runs=runs)
    return {"int8_top1": narrow["tflite_top1"], "int16x8_top1": wide["tflite_top1"],
            "float_top1": wide["float_top1"], "int8_ms": p50["int8"], "int16x8_ms": p50["int16x8"],
            "latency_ratio": p50["int16x8"] / p50["int8"]}


def base_command(base: dict) -> str:
    """The ``python -m train`` command that made the base run (from its record)."""
    command = rundir.find_run(base["workdir"]).record.get("command", {})
    words = ["python -m train"]
    words += [f"--config {os.path.splitext(os.path.basename(c))[0]}" for c in command.get("config", [])]
    words += [f'--gin_bindings "{b}"' for b in command.get("gin_bindings", [])]
    return " ".join(words)


def markdown(rows: dict[str, dict], met: list[tuple[str, str, bool | None]], pending: list[str],
             wide: dict | None = None) -> str:
    device = results.device()
    lines = [
        "# Compression on Fashion-MNIST",
        "",
        f"Generated by `python benchmarks/fashion_mnist_compression.py` on {datetime.date.today()}: "
        f"{device['cpu']}, {device['cores']} cores. One base run (`{base_command(rows['base'])}`) "
        f"through each stage with its `configs/fashion_mnist_*.gin`; every run exported to "
        f"full-integer int8 and measured alike: top-1 on the 10,000 test images (float: the Keras "
        f"model; int8: the .tflite), sizes of the int8 file, host int8 latency (p50, 1 thread).",
        "",
        report.markdown(list(rows.values())),
        "| bar | measured | met |",
        "|---|---:|---|",
    ]
    lines += [f"| {what} | {value} | {'stated' if ok is None else 'yes' if ok else '**no**'} |"
              for what, value, ok in met]
    if wide:
        lines += ["", f"int16x8 (int16 activations, int8 weights) of the base: top-1 "
                      f"{percent(wide['int16x8_top1'])} against int8 {percent(wide['int8_top1'])} "
                      f"(float {percent(wide['float_top1'])}); host latency {wide['int16x8_ms']:.3f} "
                      f"ms against {wide['int8_ms']:.3f} ms, {wide['latency_ratio']:.1f}x (1 thread, "
                      f"alternating rounds): no XNNPACK kernels for int16 activations."]
    if pending:
        lines += ["", f"Not yet run: {', '.join(f'`{p}`' for p in pending)}."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base", help="a finished --config fashion_mnist run")
    parser.add_argument("--root", default=os.path.join("runs", "fashion_mnist_compression"),
                        help="run directories, one per step (default: runs/fashion_mnist_compression)")
    parser.add_argument("--steps", nargs="+", default=[s.name for s in STEPS],
                        choices=[s.name for s in STEPS], help="steps to run (default: all)")
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "fashion_mnist_compression.md"))
    parser.add_argument("--results", default=os.path.join(ROOT, "benchmarks", "results",
                                                          "fashion_mnist_compression.json"))
    parser.add_argument("--latency-runs", type=int, default=100,
                        help="timed invocations per round (default: 100)")
    parser.add_argument("--int16x8", action="store_true",
                        help="also export the base with int16 activations and compare it with int8")
    parser.add_argument("--gin_bindings", nargs="+", default=[], metavar="BINDING",
                        help="extra train.* bindings for every step (e.g. train.data_dir = '/data')")
    args = parser.parse_args(argv)
    try:  # every input checked before any work
        report.check_runs([args.base])
        for path in (args.out, args.results):
            files.writable_dir(os.path.dirname(os.path.abspath(path)), "the output folder")
    except InputError as e:
        parser.error(str(e))
    steps = [s for s in STEPS if s.name in args.steps]
    missing = {s.parent for s in steps if s.parent not in (None, "base")} - set(args.steps)
    if missing:
        parser.error(f"--steps needs {', '.join(sorted(missing))} too (they start from it)")

    workdirs = {"base": os.path.abspath(args.base),
                **{s.name: os.path.abspath(os.path.join(args.root, s.name)) for s in steps}}
    rows = {"base": report.row(workdirs["base"], args.latency_runs)}
    for i, step in enumerate(steps):
        print(f"[{i + 1}/{len(steps)}] {step.name}: {workdirs[step.name]}", file=sys.stderr, flush=True)
        train(step, workdirs, args.gin_bindings)
        rows[step.name] = report.row(workdirs[step.name], args.latency_runs)
        if step.name == "channel_prune":  # alternating rounds: a fair ratio on a noisy host
            p50 = host.median_p50({k: report.int8_file(rundir.find_run(workdirs[k]))
                                   for k in ("base", "channel_prune")}, runs=args.latency_runs)
            rows["channel_prune"]["latency_ratio"] = p50["channel_prune"] / p50["base"]
        if step.name == "pcqat":
            rows["pcqat"]["pruned_kernels"] = pruned_kernels(workdirs["pcqat"])
        write(args, rows, [s.name for s in steps[i + 1:]])
    if args.int16x8:
        print("int16x8: exporting the base", file=sys.stderr, flush=True)
        write(args, rows, [], int16x8(workdirs["base"], os.path.join(args.root, "int16x8"),
                                      args.latency_runs))


def write(args, rows: dict, pending: list[str], wide: dict | None = None) -> None:
    met = checks(rows)
    files.write_atomic(args.out, markdown(rows, met, pending, wide))
    files.write_json(args.results, {"rows": rows, "int16x8": wide, "checks": [
        {"bar": what, "measured": value, "met": ok} for what, value, ok in met]})
    for what, value, ok in met:
        print(f"  {what}: {value} ({'stated' if ok is None else 'met' if ok else 'NOT met'})",
              file=sys.stderr)


if __name__ == "__main__":
    main()
