"""The search's headline: its model, trained fully, against every zoo model that fits its budget.

    python benchmarks/search_vs_zoo.py --search runs/searches/search_fashion_mnist_035 --run RUN
        [--leaderboard benchmarks/results/fashion_mnist_leaderboard.json] [--epochs 10]
        [--train] [--root runs/fashion_mnist_leaderboard] [--out docs/search.md]
    python benchmarks/search_vs_zoo.py --budget-model mobilenet_v2_100 --run RUN [--name NAME] ...
    python benchmarks/search_vs_zoo.py --budget-model mobilenet_v2_100 --name NAME --train ...

In one process, on this host at the search's threads: the search's budget model, every registered
zoo model (built at the search's resolution with its ``model_overrides``, random weights: int8
latency does not depend on their values) and the searched run's exported int8 model, each timed by
the latency table's code (the fastest of 3 fresh processes). Zoo models within the budget model's
latency fit the budget; their accuracy is their Fashion-MNIST leaderboard row of ``--epochs``
epochs (the same recipe as the searched run), or what another comparison's ``--train`` recorded
in its results file, else with ``--train`` they train first, in the leaderboard's run
directories (resumable: rerun after a kill). The table and the accuracy-latency
plot go into ``--out`` (a section per search), the figures into
``benchmarks/results/<search>_vs_zoo.json``. Without the search's folder (trained on another
machine from its ``best.gin``), ``--budget-model`` names the zoo model whose latency is the budget
and the run gives the resolution and ``model_overrides``; the study's own budget is then unknown.
Without ``--run`` (its directory went with another machine), the searched model is the one this
comparison's results file recorded: its figures as recorded, its latency measured anew on an int8
model of its architecture with random weights. Zoo models trained by an earlier ``--train`` stay in
that file too, so a comparison carries on across machines with no run directory of its own.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import sys
import tempfile

from lite_tf import files, rundir
from lite_tf.deploy.benchmark.render import percent
from lite_tf.deploy.convert import write_random_int8
from lite_tf.errors import InputError
from lite_tf.models import create_model, list_models
from lite_tf.models.profile import profile_model
from lite_tf.search import latency

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_mnist_leaderboard as board  # noqa: E402 (the script beside this one)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ACCURACY = ("float_top1", "int8_top1", "epochs")  # what a zoo model's trained run gives it


def search_facts(folder: str) -> dict:
    """What the comparison needs from a finished search's folder: its name, budget model,
    resolution, ``model_overrides`` and threads."""
    try:
        with open(os.path.join(folder, "results.json")) as f:
            result = json.load(f)
        with open(os.path.join(folder, "search.json")) as f:
            search = json.load(f)
    except (OSError, ValueError) as e:
        raise InputError(f"--search {folder}: not a finished search ({e})") from None
    if not result.get("budget_model"):
        raise InputError(f"--search {folder}: its budget is not a zoo model's latency "
                         "(search.budget_model), so there is no zoo model to compare with")
    settings = search["settings"]
    if settings["search.device"] != "host":
        raise InputError(f"--search {folder}: searched for device {settings['search.device']!r}; "
                         "this comparison times models on this host")
    return {"name": os.path.splitext(os.path.basename(search["command"]["config"][-1]))[0],
            "budget_model": result["budget_model"], "study_budget_ms": result["budget_ms"],
            "resolution": min(settings["search.space"]["resolutions"]),
            "overrides": settings["search.model_overrides"] or {},
            "threads": settings["search.threads"]}


def run_facts(workdir: str, budget_model: str, name: str | None) -> dict:
    """The facts ``search_facts`` reads from a search's folder, for a searched run without it:
    the budget model given, the run's resolution and ``model_overrides`` (less its architecture),
    1 thread."""
    if budget_model not in list_models():
        raise InputError(f"--budget-model {budget_model!r}: not a zoo model (lite-tf models lists them)")
    run = rundir.find_run(workdir)
    if run["model"] != "searched":
        raise InputError(f"--run {workdir}: trains {run['model']!r}, not a searched architecture")
    overrides = {k: v for k, v in (run["model_overrides"] or {}).items() if k != "arch"}
    return {"name": name or os.path.basename(os.path.normpath(workdir)), "budget_model": budget_model,
            "study_budget_ms": None, "resolution": run["image_size"], "overrides": overrides,
            "threads": 1}


def recorded_comparison(path: str, budget_model: str | None) -> tuple[dict, dict]:
    """The facts and the searched model a comparison's results file at ``path`` recorded."""
    try:
        with open(path) as f:
            result = json.load(f)
        facts, searched = result["search"], result["searched"]
    except (OSError, ValueError, KeyError) as e:
        raise InputError(f"no --run, and {os.path.relpath(path)} holds no comparison to take the "
                         f"searched model from ({e})") from None
    if budget_model and facts["budget_model"] != budget_model:
        raise InputError(f"--budget-model {budget_model!r}: {os.path.relpath(path)} compared under "
                         f"{facts['budget_model']!r}'s latency")
    return facts, searched


def architecture_int8(searched: dict, folder: str) -> str:
    """An int8 model of the searched architecture with random weights, written to ``folder``."""
    r = searched["input"]
    model = create_model(searched["model"], num_classes=board.CLASSES, input_shape=(r, r, 3),
                         **searched["overrides"])
    return write_random_int8({"searched": model}, folder)["searched"]


def zoo_latency(facts: dict, exported: str) -> tuple[dict, dict[str, tuple[float, int]], float]:
    """(device, each zoo model's int8 ms and MACs, the exported model's ms), timed together."""
    r = facts["resolution"]
    names = list_models()  # the zoo (search candidates build through create_model, unlisted)
    models = []
    for i, name in enumerate(names):
        print(f"[{i + 1}/{len(names)}] building {name}", file=sys.stderr, flush=True)
        models.append(create_model(name, num_classes=board.CLASSES, input_shape=(r, r, 3),
                                   **facts["overrides"]))
    print(f"converting the {len(names)} to int8 and timing them with {exported} (about 10 "
          "minutes on 2 cores)", file=sys.stderr, flush=True)
    device, ms = latency.measure_whole(models, latency.host_measurer(facts["threads"]),
                                       extra=[exported])
    return device, {n: (t, profile_model(m)["macs"]) for n, t, m in zip(names, ms, models)}, ms[-1]


def accuracies(rows: list[dict], epochs: int, resolution: int) -> dict[str, dict]:
    """The leaderboard's own runs (one per model) of ``epochs`` at ``resolution``, by model."""
    return {r["model"]: r for r in rows
            if r["run"] == r["model"] and r["epochs"] == epochs and r["input"] == resolution}


def compared(folder: str, epochs: int, resolution: int, own: str) -> dict[str, dict]:
    """Zoo models trained for comparisons (``--train``, the same recipe) and recorded in their
    results files in ``folder`` (``*_vs_zoo.json``), of ``epochs`` at ``resolution``, by model:
    this one's (file ``own``) first, then the others', each of those with ``from``: the file (the
    run directories may be gone)."""
    found = {}
    names = sorted(n for n in os.listdir(folder) if n.endswith("_vs_zoo.json") and n != own)
    for name in [own, *names] if os.path.exists(os.path.join(folder, own)) else names:
        with open(os.path.join(folder, name)) as f:
            result = json.load(f)
        if result["search"]["resolution"] != resolution:
            continue
        for z in result["zoo"]:
            source = {"from": z["from"]} if "from" in z else {} if name == own else {"from": name}
            if z.get("int8_top1") and z.get("epochs") == epochs:
                found.setdefault(z["model"], {**{k: z[k] for k in ACCURACY}, **source})
    return found


def plot(zoo: list[dict], searched: dict, budget: float, title: str) -> bytes:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    trained = [z for z in zoo if z.get("int8_top1") and z["latency_ms"] <= 3 * budget]
    ax.scatter([z["latency_ms"] for z in trained], [100 * z["int8_top1"] for z in trained],
               color="tab:blue", label="zoo (trained alike, up to 3x the budget)")
    for z in trained:  # those that fit in black, the rest in grey
        ax.annotate(z["model"], (z["latency_ms"], 100 * z["int8_top1"]), fontsize=7 if z["fits"] else 6,
                    color="k" if z["fits"] else "0.5", xytext=(3, 3), textcoords="offset points")
    ax.scatter([searched["latency_ms"]], [100 * searched["int8_top1"]], color="tab:red",
               marker="*", s=150, label="searched")
    ax.axvline(budget, color="k", ls="--", lw=0.8, label=f"budget {budget:.3f} ms")
    near = [100 * z["int8_top1"] for z in trained if z["fits"]] + [100 * searched["int8_top1"]]
    bottom = max(min(near) - 1.5, max(near) - 5)  # the models that compete, not a far weaker one
    ax.set_ylim(bottom=bottom)
    below = [z["model"] for z in trained if 100 * z["int8_top1"] < bottom]
    if below:
        ax.text(0.01, 0.01, "below the axis: " + ", ".join(below), transform=ax.transAxes, fontsize=7)
    ax.set_xlabel("int8 latency, ms (this host, 1 thread)")
    ax.set_ylabel("test top-1 int8 (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title)
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png")
    plt.close(fig)
    return png.getvalue()


def markdown(facts: dict, device: dict, budget: float, searched: dict, zoo: list[dict],
             picture: str) -> str:
    fits = [z for z in zoo if z["fits"]]
    best = max((z for z in fits if z.get("int8_top1")), key=lambda z: z["int8_top1"], default=None)
    untrained = [z["model"] for z in fits if not z.get("int8_top1")]
    study = "" if facts["study_budget_ms"] is None else \
        f" (the study pruned at {facts['study_budget_ms']:.3f} ms)"
    lines = [
        f"### `{facts['name']}`: the searched model against the zoo under `{facts['budget_model']}`'s latency",
        "",
        f"Generated by `python benchmarks/search_vs_zoo.py` on {datetime.date.today()}: "
        f"{device['cpu']}, 1 thread, {facts['resolution']}x{facts['resolution']} inputs, "
        f"model_overrides {facts['overrides']}. Every latency below was measured in one process "
        f"(int8, the fastest of 3 fresh processes): the budget is `{facts['budget_model']}`'s "
        f"**{budget:.3f} ms**{study}. "
        f"{len(fits)} of {len(zoo)} zoo models fit it." + (
            " The searched run is not on this machine: its figures are the ones recorded, its "
            "latency that of an int8 model of its architecture with random weights."
            if searched.get("latency_of") == "architecture" else ""),
        "",
        f"![accuracy against latency]({picture})",
        "",
        "| model | MACs | int8 ms | x budget | top-1 float | top-1 int8 | epochs |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for z in [searched, *sorted(fits, key=lambda z: -(z.get("int8_top1") or 0))]:
        name = "searched (`" + searched["run"] + "`)" if z is searched else f"`{z['model']}`"
        lines.append(f"| {name} | {z['macs'] / 1e6:.1f}M | {z['latency_ms']:.3f} | "
                     f"{z['latency_ms'] / budget:.2f} | {percent(z.get('float_top1'))} | "
                     f"{percent(z.get('int8_top1'))} | {z.get('epochs', '')} |")
    lines.append("")
    within = searched["latency_ms"] <= budget
    if best:
        margin = 100 * (searched["int8_top1"] - best["int8_top1"])
        lines.append(f"The searched model {'is within' if within else 'is OVER'} the budget "
                     f"({searched['latency_ms'] / budget:.2f}x) and is {margin:+.2f} points "
                     f"int8 against the most accurate trained zoo model that fits, `{best['model']}`.")
    elsewhere = sorted({z["from"] for z in fits if z.get("from")})
    for source in elsewhere:
        lines.append(f"Trained for another comparison (figures from `benchmarks/results/{source}`): "
                     + ", ".join(f"`{z['model']}`" for z in fits if z.get("from") == source) + ".")
    if untrained:
        lines.append(f"Zoo models that fit but have no {searched.get('epochs')}-epoch run yet: "
                     + ", ".join(f"`{m}`" for m in untrained) + " (`--train` trains them).")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog=os.path.basename(__file__), description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--search", help="a finished search's folder (results.json)")
    source.add_argument("--budget-model", help="without the search's folder: the zoo model whose "
                        "latency is the budget (resolution and model_overrides: the run's)")
    parser.add_argument("--run", help="the searched model's finished training run (default: the "
                        "searched model this comparison's results file recorded)")
    parser.add_argument("--name", help="with --budget-model: the section's and results file's name "
                        "(default: the run's folder name; needed without --run)")
    parser.add_argument("--leaderboard", default=os.path.join(
        ROOT, "benchmarks", "results", "fashion_mnist_leaderboard.json"),
        help="the zoo models' accuracy: the Fashion-MNIST leaderboard's figures")
    parser.add_argument("--epochs", type=int, default=10,
                        help="the zoo runs' epochs, as the searched run's (default: 10)")
    parser.add_argument("--train", action="store_true",
                        help="train the zoo models that fit but have no run of --epochs")
    parser.add_argument("--root", default=os.path.join("runs", "fashion_mnist_leaderboard"),
                        help="where --train's runs go (default: the leaderboard's)")
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "search.md"),
                        help="the Markdown page the table goes into (a section per search)")
    args = parser.parse_args(argv)
    results = os.path.join(ROOT, "benchmarks", "results")
    try:
        if args.name and args.search:
            raise InputError("--name goes with --budget-model (a search's comparison takes its name)")
        if not (args.run or args.search or args.name):
            raise InputError("--budget-model without --run needs --name: the comparison whose "
                             "results file recorded the searched model")
        if args.run:
            facts = search_facts(args.search) if args.search else \
                run_facts(args.run, args.budget_model, args.name)
            rundir.find_run(args.run)
        else:
            name = search_facts(args.search)["name"] if args.search else args.name
            facts, searched = recorded_comparison(os.path.join(results, name + "_vs_zoo.json"),
                                                  args.budget_model)
        files.writable_dir(os.path.dirname(os.path.abspath(args.out)), "the output folder")
    except InputError as e:
        parser.error(str(e))

    section = facts["name"] + "_vs_zoo"
    with tempfile.TemporaryDirectory() as folder:
        if args.run:
            searched = board.row(args.run)
            exported = searched["tflite"]
        else:
            searched = {**searched, "latency_of": "architecture"}
            exported = architecture_int8(searched, folder)
        device, zoo_ms, searched["latency_ms"] = zoo_latency(facts, exported)
    budget = zoo_ms[facts["budget_model"]][0]
    known = {**compared(results, args.epochs, facts["resolution"], section + ".json"),
             **accuracies(board.recorded(args.leaderboard).values(), args.epochs, facts["resolution"])}
    zoo = [{"model": name, "latency_ms": ms, "fits": ms <= budget, "macs": macs,
            **{k: v for k, v in known.get(name, {}).items() if k in (*ACCURACY, "from")}}
           for name, (ms, macs) in zoo_ms.items()]
    picture = os.path.join(os.path.dirname(os.path.abspath(args.out)), section + ".png")

    def publish() -> None:
        for z in zoo:  # a run of --epochs in --root, trained by --train now or before
            workdir = os.path.join(args.root, z["model"])
            if z["fits"] and "int8_top1" not in z and rundir.RunDir(workdir).finished():
                z.update({k: v for k, v in board.row(workdir).items() if k in ACCURACY})
        files.write_atomic(picture, plot(zoo, searched, budget, f"Fashion-MNIST under "
                                                                f"{facts['budget_model']}'s latency"))
        text = markdown(facts, device, budget, searched, zoo, os.path.basename(picture))
        files.write_section(args.out, section, text)
        files.write_json(os.path.join(results, section + ".json"), {
            "search": facts, "device": device, "budget_ms": budget,
            "searched": {k: v for k, v in searched.items() if k != "curve"}, "zoo": zoo})
        print(text, flush=True)

    publish()
    if args.train:  # the biggest first: the likeliest to be the most accurate
        for z in sorted(zoo, key=lambda z: -z["macs"]):
            if z["fits"] and "int8_top1" not in z:
                print(f"training {z['model']} in {args.root}", file=sys.stderr, flush=True)
                board.train(z["model"], os.path.join(args.root, z["model"]), args.epochs, [])
                publish()


if __name__ == "__main__":
    main()
