"""What a search leaves in its folder (lite_tf/rundir.py ``SearchDir``): every trial, the
accuracy / latency front and the best candidate, as ``results.json``, ``front.csv``, ``front.png``
and ``best.gin`` (the best architecture as a training config for ``python -m train``).

The front is the finished candidates no other beats on both score and predicted latency; the best
is the highest score (under the budget: candidates over it were pruned unestimated).
"""

from __future__ import annotations

import csv
import io
import json

import matplotlib

matplotlib.use("Agg")  # files only, no display
from matplotlib import pyplot as plt  # noqa: E402  (after choosing the backend)
import optuna  # noqa: E402

from lite_tf import files  # noqa: E402
from lite_tf.rundir import SearchDir  # noqa: E402
from lite_tf.search import study as studies  # noqa: E402
from lite_tf.training.settings import Settings  # noqa: E402

SCHEMA = "lite_tf.search_results/1"
STATES = {optuna.trial.TrialState.COMPLETE: "complete", optuna.trial.TrialState.PRUNED: "pruned",
          optuna.trial.TrialState.FAIL: "failed", optuna.trial.TrialState.RUNNING: "running",
          optuna.trial.TrialState.WAITING: "waiting"}


def rows(study: optuna.Study) -> list[dict]:
    """One row per trial: its number, state, score (finished ones; a halted one's at the epoch it
    was halted), predicted latency, seconds, why it was pruned (pruned ones), with search.pruner
    its score after each epoch (``curve``) and the epoch it was halted at, and its
    architecture."""
    found = []
    for t in study.get_trials(deepcopy=False):
        score = None
        if t.state == optuna.trial.TrialState.COMPLETE:
            score = t.values[0]
        elif "halted" in t.user_attrs and t.intermediate_values:
            score = t.intermediate_values[max(t.intermediate_values)]
        seconds = (t.datetime_complete - t.datetime_start).total_seconds() \
            if t.datetime_complete and t.datetime_start else None
        found.append({"trial": t.number, "state": STATES[t.state], "score": score,
                      "latency_ms": t.user_attrs.get("latency_ms"), "seconds": seconds,
                      "same_as": t.user_attrs.get("same_as"), "pruned": t.user_attrs.get("pruned"),
                      "halted": t.user_attrs.get("halted"),
                      "curve": [t.intermediate_values[e] for e in sorted(t.intermediate_values)]
                      or None, "arch": t.user_attrs.get("arch")})
    return found


def estimated(trials: list[dict]) -> list[dict]:
    """The finished trials, one per architecture (not those that took an earlier trial's)."""
    return [t for t in trials if t["state"] == "complete" and t["same_as"] is None]


def front(trials: list[dict]) -> list[dict]:
    """The finished trials no other finished trial beats on both score (higher) and latency
    (lower), fastest first; one trial per architecture."""
    done = estimated(trials)
    kept = [t for t in done if not any(
        o["score"] >= t["score"] and o["latency_ms"] <= t["latency_ms"]
        and (o["score"] > t["score"] or o["latency_ms"] < t["latency_ms"]) for o in done)]
    return sorted(kept, key=lambda t: (t["latency_ms"], -t["score"]))


def best(trials: list[dict]) -> dict | None:
    """The finished trial of the highest score (the faster of equal ones), None before one."""
    return max(estimated(trials), key=lambda t: (t["score"], -t["latency_ms"]), default=None)


def summary(arch: dict) -> str:
    """An architecture in one line: resolution, then per stage block-kernel-expansion x depth,
    channels, SE and hard-swish marks."""
    short = {"inverted_residual": "ir", "sandglass": "sg", "uib": "uib"}
    stages = " ".join(f"{short[s['block']]}{s['kernel']}e{s['expansion']}x{s['depth']}"
                      f"c{s['channels']}{'+se' if s['se'] else ''}"
                      f"{'+hs' if s['activation'] == 'hard_swish' else ''}" for s in arch["stages"])
    return f"{arch['resolution']}px {stages}"


def best_config(row: dict, settings: Settings, search: dict, device: str, folder: str) -> str:
    """``best.gin``: the best architecture as ``train.model = 'searched'`` with the search's own
    ``train.*`` settings (its data and recipe)."""
    arch = row["arch"]
    header = (f"# The best candidate of the search in {folder}: trial {row['trial']}, "
              f"{search['estimator']} score {row['score']:.4f}, {row['latency_ms']:.3f} ms int8 predicted on "
              f"{device}.\n# {summary(arch)}\n# Train it: python -m train --config "
              f"{folder}/best.gin\n")
    overrides = {**(search["model_overrides"] or {}), "arch": arch}
    chosen = settings.replace(model="searched", model_overrides=overrides,
                              image_size=arch["resolution"])
    return header + chosen.to_gin()


def plot(trials: list[dict], path: str, budget_ms: float | None, estimator: str, device: str):
    done, edge = estimated(trials), front(trials)
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    ax.scatter([t["latency_ms"] for t in done], [t["score"] for t in done], s=14, c="0.6",
               label=f"candidates ({len(done)})")
    ax.plot([t["latency_ms"] for t in edge], [t["score"] for t in edge], "o-", c="C0", ms=5,
            label="front")
    if budget_ms is not None:
        ax.axvline(budget_ms, c="C3", ls="--", lw=1, label=f"budget {budget_ms:.3g} ms")
    ax.set_xlabel(f"predicted int8 latency (ms), {device}")
    ax.set_ylabel(f"score ({estimator})")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    files.write_atomic(path, buffer.getvalue())


def write(folder: SearchDir, study: optuna.Study, settings: Settings, search: dict,
          device: str) -> dict:
    """Write results.json, front.csv, front.png and (once a trial finished) best.gin; returns the
    results document."""
    trials = rows(study)
    edge, top = front(trials), best(trials)
    doc = {"schema": SCHEMA, "strategy": search["strategy"], "estimator": search["estimator"],
           "budget_ms": search["budget_ms"], "budget_model": search.get("budget_model"),
           "device": device,
           "counts": {s: sum(t["state"] == s for t in trials) for s in STATES.values()},
           "estimated": studies.estimated(study),
           "front": [t["trial"] for t in edge], "best": top["trial"] if top else None,
           "trials": trials}
    files.write_atomic(folder.results, json.dumps(doc, indent=1) + "\n")
    table = io.StringIO()
    out = csv.writer(table, lineterminator="\n")
    out.writerow(["trial", "score", "latency_ms", "architecture"])
    out.writerows([t["trial"], f"{t['score']:.4f}", f"{t['latency_ms']:.4f}", summary(t["arch"])]
                  for t in edge)
    files.write_atomic(folder.front_csv, table.getvalue())
    plot(trials, folder.front_png, search["budget_ms"], search["estimator"], device)
    if top is not None:
        files.write_atomic(folder.best_config, best_config(top, settings, search, device,
                                                           folder.path))
    return doc
