"""The Fashion-MNIST leaderboard: one model per zoo family, trained, exported to int8 and measured.

    python benchmarks/fashion_mnist_leaderboard.py [--models NAME ...] [--epochs 10]
        [--root runs/fashion_mnist_leaderboard] [--runs RUN ...] [--retrain NAME ...]
        [--out docs/fashion_mnist.md] [--gin_bindings BINDING ...]

Each model trains with the recipe of ``configs/fashion_mnist.gin`` (32x32, ``drop_strides=1``; a
family that needs its own has it in ``CONFIGS``) at the width in ``ENTRIES``, for ``--epochs``, in
its own run directory ``ROOT/<model>``: a normal run (``python -m export``, ``python -m
export.report`` work on it). A rerun skips finished models and resumes an interrupted one from its
last epoch, so the whole board can run in the background (``nohup ... &``) across sessions.

The committed JSON is part of that state: its rows stay on the board until their run is given
again, and a model recorded there is not trained again even when its run directory is gone
(another machine, a wiped ``runs/``; ``--retrain`` forces it); the latency of such a row is
measured anew, with the others, on an int8 model of the same architecture with random weights
(int8 latency does not depend on the weights' values). ``--runs`` adds finished runs trained
elsewhere (the full recipe's). After each model the table is rewritten: input, epochs, params,
MACs, float and int8 top-1 on the 10,000 test images, int8 size, host int8 latency (1 thread, p50,
by the code of ``python -m export.benchmark``) and training minutes, with the accuracy-latency plot
beside it and the figures as JSON in ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import shutil
import sys
import tempfile

import gin

from lite_tf import files, rundir
from lite_tf.deploy import report
from lite_tf.errors import InputError
from lite_tf.deploy.benchmark import host, render, results
from lite_tf.deploy.convert import write_random_int8
from lite_tf.models import create_model, get_entry, list_families
from lite_tf.training.launch import launch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# One model per family: the widths that train 10 epochs in about 10-25 minutes on 2 cores.
ENTRIES = {
    "mobilenet_v1": "mobilenet_v1_050",
    "mobilenet_v2": "mobilenet_v2_050",
    "mobilenext": "mobilenext_050",
    "shufflenet_v1": "shufflenet_v1_g3_050",
    "shufflenet_v2": "shufflenet_v2_050",
    "snet": "snet_146",
    "squeezenet": "squeezenet_11",
    "mobilefacenet": "mobilefacenet",
    "mobilenet_v3": "mobilenet_v3_small_100",
    "efficientnet_lite": "efficientnet_lite0",
    "mobilenet_v4": "mobilenet_v4_conv_small",
    "mnasnet": "mnasnet_050",
    "ghostnet": "ghostnet_100",
}
# Families the board leaves out unless named in --models, and why (the doc says it).
LEFT_OUT = {
    "mobilefacenet": "a face-verification embedding network built for 112x112 face crops (its "
                     "global depthwise head takes a 7x7 map); at 32x32 with `drop_strides=1` it "
                     "costs 72M MACs, 10-12 minutes an epoch on 2 cores, about 2 hours for 10 "
                     "epochs, and a run stopped after 3 of them stood at 88.9% test top-1 "
                     "(`--models mobilefacenet` trains it)",
}
# The recipe, configs/<name>.gin: fashion_mnist.gin's, but where a family needs its own.
CONFIGS = {"squeezenet_11": "fashion_mnist_squeezenet"}  # no BatchNorm: AdamW
OVERRIDES = {"drop_strides": 1, "bn_momentum": 0.99}  # as configs/fashion_mnist.gin
BUDGET_MINUTES = 90  # what configs/fashion_mnist.gin may take on 2 cores (the Fashion-MNIST issue)
CLASSES = 10  # Fashion-MNIST's (and the digits' the tests train on)
COLUMNS = ("model", "input", "epochs", "params", "MACs", "top-1 float", "top-1 int8", "int8 size",
           "int8 ms (1 thread)", "training min")


def train(model: str, workdir: str, epochs: int, bindings: list[str]) -> None:
    """Train ``model`` in ``workdir`` unless finished there (an unfinished run resumes)."""
    if rundir.RunDir(workdir).finished():
        return
    try:
        launch([CONFIGS.get(model, "fashion_mnist")], [f"train.model = {model!r}",
                                   f"train.model_overrides = {OVERRIDES!r}",
                                   f"train.epochs = {epochs}", "train.verbose = 2", *bindings],
               workdir)
    finally:
        gin.clear_config()


def row(workdir: str) -> dict:
    """The leaderboard figures of a finished run but latency (exported to int8 first if need be)."""
    figures = report.row(workdir, latency_runs=0, progress=lambda m: print(m, file=sys.stderr))
    run = rundir.find_run(workdir)
    metrics = rundir.read_metrics(run.dir)
    final = metrics["final"]
    return {**figures, "input": run["image_size"], "epochs": final["epochs"],
            "overrides": run["model_overrides"] or {},
            "train_minutes": final["wall_seconds"] / 60, "tflite": report.int8_file(run),
            "curve": [(e["wall_seconds"] / 60, e["val_top1"]) for e in metrics["history"]]}


def recorded(path: str) -> dict[str, dict]:
    """The rows of the results JSON at ``path`` (if any), by run name."""
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return {r["run"]: r for r in json.load(f)["rows"]}


def twins(rows: list[dict], folder: str) -> None:
    """Give each row whose int8 model is gone one of its architecture with random weights to time
    (``timed``, in ``folder``); its other figures are the row's."""
    gone = [r for r in rows if not os.path.exists(r["tflite"])]
    models = {r["run"]: create_model(r["model"], num_classes=CLASSES,
                                     input_shape=(r["input"], r["input"], 3),
                                     **r.get("overrides", OVERRIDES)) for r in gone}
    paths = write_random_int8(models, folder)
    for r in gone:
        r["timed"], r["latency_of"] = paths[r["run"]], "architecture"


def reaches_budget(rows: list[dict]) -> bool:
    """Whether any run trained long enough for the time budget to belong in its plot."""
    return any(m > BUDGET_MINUTES / 2 for r in rows for m, _ in r["curve"])


def curves(rows: list[dict]) -> bytes:
    """PNG of each run's test top-1 after every epoch against training minutes."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=120)
    colors = plt.get_cmap("tab20").colors  # the 10 dark hues first, then their light ones
    for i, r in enumerate(rows):
        minutes, top1 = zip(*r["curve"])
        ax.plot(minutes, [100 * t for t in top1], marker=".", color=colors[2 * i % 20 + 2 * i // 20 % 2],
                ls="-" if i < 10 else "--", label=f"{r['model']} ({r['run']})")
    if reaches_budget(rows):
        ax.axvline(BUDGET_MINUTES, color="k", lw=0.8, ls="--", label=f"{BUDGET_MINUTES} minutes")
    ax.set_xlabel("training minutes (2 cores)")
    ax.set_ylabel("test top-1 after each epoch (%)")
    ax.set_ylim(bottom=max(0, min(100 * t for r in rows for _, t in r["curve"][len(r["curve"]) // 3:]) - 2))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.set_title("Fashion-MNIST: accuracy during training")
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png")
    plt.close(fig)
    return png.getvalue()


def measure(rows: list[dict], runs: int) -> dict:
    """Host int8 latency of every row's model (1 thread), as a ``lite_tf.benchmark/2`` document
    with each row's name and int8 top-1; each row gets its p50 as ``latency_ms``."""
    document = host.measure_all([r.get("timed", r["tflite"]) for r in rows], [1], runs)
    for r, result in zip(rows, document["results"]):
        r["latency_ms"] = result["p50_ms"]
        result.update(model=r["model"], top1=r["int8_top1"])
        if "timed" in r:  # a temporary file: say what was timed instead
            result["path"] = f"random weights in the architecture of {r['tflite']}"
    return document


def markdown(rows: list[dict], pending: list[str], epochs: int, left_out: dict[str, str]) -> str:
    device = results.device()
    pct = render.percent
    lines = [
        "# Fashion-MNIST leaderboard",
        "",
        f"Generated by `python benchmarks/fashion_mnist_leaderboard.py` on {datetime.date.today()}: "
        f"{device['cpu']}, {device['cores']} cores. One model per family, each trained from scratch "
        f"with the recipe of `configs/fashion_mnist.gin` (SGD, cosine, pad-and-crop + flips + random "
        f"erasing; 28x28 images resized to 32x32, `drop_strides=1`; "
        + "; ".join(f"`{m}`: `configs/{c}.gin`" for m, c in CONFIGS.items())
        + f"), {epochs} epochs at the width that "
        f"fits the time (other rows: the runs named, e.g. the full recipe), then exported to full-integer int8 (`python -m export --int8`). Top-1 "
        f"on the 10,000 test images; latency is the int8 model's p50 on this host, 1 thread "
        f"(ai_edge_litert + XNNPACK); training minutes are wall time on these 2 cores.",
        "",
        "![accuracy against latency](fashion_mnist.png)",
        "![accuracy during training](fashion_mnist_curves.png)",
        "",
    ]
    full = [r for r in rows if r["epochs"] > epochs]
    if reaches_budget(full):
        lines += [
            "Longer runs: " + "; ".join(
                f"`{r['model']}` ({r['run']}, {r['epochs']} epochs) ends at {pct(r['int8_top1'])} "
                f"int8 after {r['train_minutes']:.0f} minutes" for r in full)
            + f". The dashed line in the curves is the {BUDGET_MINUTES} minutes "
              "`configs/fashion_mnist.gin` may take on 2 cores; that recipe's cosine schedule is spent by its last epoch, so its "
              "curve flattens there.", ""]
    lines += [
        "| " + " | ".join(COLUMNS) + " |", "|---|" + "---:|" * (len(COLUMNS) - 1)]
    for r in sorted(rows, key=lambda r: -r["int8_top1"]):
        lines.append("| " + " | ".join([
            f"`{r['model']}`" + ("\\*" if r.get("latency_of") == "architecture" else ""),
            f"{r['input']}x{r['input']}", str(r["epochs"]),
            f"{r['params'] / 1e6:.2f}M", f"{r['macs'] / 1e6:.1f}M", pct(r["float_top1"]),
            pct(r["int8_top1"]), f"{r['size_bytes'] / 1024:.0f} KiB", f"{r['latency_ms']:.2f}",
            f"{r['train_minutes']:.0f}"]) + " |")
    if any(r.get("latency_of") == "architecture" for r in rows):
        lines += ["", "Rows marked \\* were trained earlier (their run directories are gone): their "
                  "figures are as recorded in `benchmarks/results/fashion_mnist_leaderboard.json`; "
                  "their latency was measured with the others, on an int8 model of the same "
                  "architecture with random weights."]
    if pending:
        lines += ["", f"Not yet on the board: {', '.join(f'`{m}`' for m in pending)}."]
    for model, why in left_out.items():
        lines += ["", f"Left out: `{model}`, {why}."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=[m for m in ENTRIES.values() if m not in LEFT_OUT],
                        metavar="NAME", help="registered models (default: one per family, ENTRIES, "
                                             "but LEFT_OUT; none: only --runs)")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs (default: 10)")
    parser.add_argument("--root", default=os.path.join("runs", "fashion_mnist_leaderboard"),
                        help="run directories, one per model (default: runs/fashion_mnist_leaderboard)")
    parser.add_argument("--runs", nargs="+", default=[], metavar="RUN",
                        help="finished runs to add as rows (e.g. the full recipe's)")
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "fashion_mnist.md"),
                        help="the Markdown page (the plot goes beside it as .png)")
    parser.add_argument("--results", default=os.path.join(ROOT, "benchmarks", "results",
                                                          "fashion_mnist_leaderboard.json"),
                        help="the figures as JSON")
    parser.add_argument("--retrain", nargs="+", default=[], metavar="NAME",
                        help="models of --models to train afresh: their run directories are "
                             "deleted and their rows replaced (e.g. after a change of recipe)")
    parser.add_argument("--latency-runs", type=int, default=50, help="timed invocations (default: 50)")
    parser.add_argument("--gin_bindings", nargs="+", default=[], metavar="BINDING",
                        help="extra train.* bindings for every model (e.g. train.data_dir = '/data')")
    args = parser.parse_args(argv)
    missing = sorted(set(list_families()) - {get_entry(m).family for m in ENTRIES.values()})
    assert not missing, f"ENTRIES lacks the families {missing}"
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    try:  # every input checked before any work
        for name in args.models:
            get_entry(name)
        for name in set(args.retrain) - set(args.models):
            raise InputError(f"--retrain {name}: not among --models")
        report.check_runs(args.runs)
        for path in (args.out, args.results):
            files.writable_dir(os.path.dirname(os.path.abspath(path)), "the output folder")
    except InputError as e:
        parser.error(str(e))

    finished = [row(workdir) for workdir in args.runs]
    live = {r["run"] for r in finished}
    for name in args.retrain:
        shutil.rmtree(os.path.join(args.root, name), ignore_errors=True)

    def redone(name: str, r: dict) -> bool:  # a recorded row this run replaces
        return name in live or name in args.models and (
            name in args.retrain or r["epochs"] != args.epochs
            or rundir.RunDir(os.path.join(args.root, name)).finished())

    carried = [r for name, r in recorded(args.results).items() if not redone(name, r)]
    twin_dir = tempfile.TemporaryDirectory()
    twins(carried, twin_dir.name)
    finished += carried
    todo = [m for m in args.models if m not in {r["run"] for r in carried}]

    def publish() -> None:
        on_board = {r["model"] for r in finished}
        left_out = {m: why for m, why in LEFT_OUT.items() if m not in on_board and m not in todo}
        pending = [m for m in dict.fromkeys([*todo, *ENTRIES.values()])
                   if m not in on_board and m not in left_out]
        document = measure(finished, args.latency_runs)
        files.write_atomic(args.out, markdown(finished, pending, args.epochs, left_out))
        files.write_atomic(os.path.splitext(args.out)[0] + ".png", render.plot([document]))
        files.write_atomic(os.path.splitext(args.out)[0] + "_curves.png", curves(finished))
        files.write_json(args.results, {"rows": [{k: v for k, v in r.items() if k != "timed"}
                                                 for r in finished], "benchmark": document})

    if finished:
        publish()
    for i, model in enumerate(todo):
        workdir = os.path.join(args.root, model)
        print(f"[{i + 1}/{len(todo)}] {model}: {workdir}", file=sys.stderr, flush=True)
        train(model, workdir, args.epochs, args.gin_bindings)
        finished.append(row(workdir))
        publish()
        print(f"[{i + 1}/{len(todo)}] {model}: int8 top-1 {finished[-1]['int8_top1']:.2%}, "
              f"{finished[-1]['latency_ms']:.2f} ms; wrote {args.out}", file=sys.stderr, flush=True)

if __name__ == "__main__":
    main()
