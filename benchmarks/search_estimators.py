"""How well the search's estimators rank candidates: Kendall's tau between each estimator's scores
and stand-alone training, on random architectures of a search config's space.

    python benchmarks/search_estimators.py [--config search_fashion_mnist] [--archs 12]
        [--standalone-epochs 5] [--supernet-epochs 3] [--estimators proxy train supernet]
        [--root runs/search_estimators] [--results benchmarks/results/search_estimators.json]

The architectures are seeds 2000, 2001, ... of the config's space, built with its model overrides.
Stand-alone: each trained from scratch for ``--standalone-epochs`` with the config's ``train.*``
recipe, scored by its top-1 on the config's evaluation split (held-out training images). The
estimators run as the search runs them: ``train`` (``search.epochs`` of training per candidate),
``supernet`` (trained once, for ``--supernet-epochs``, in ``ROOT/supernet``; its first score's
seconds include that training) and ``proxy`` (NASWOT). Each score is written to ``--results`` as it
is measured, with the seconds it took, and a rerun skips what is there, so the benchmark runs in
the background (``nohup ... &``) across sessions. Prints Kendall's tau and Spearman's rho of each
estimator against stand-alone training, over the architectures that have both.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time

import numpy as np
from scipy import stats

from lite_tf import files
from lite_tf.backend import keras
from lite_tf.data import sources
from lite_tf.errors import InputError
from lite_tf.search import estimate
from lite_tf.search import settings as search_settings
from lite_tf.search.space import build
from lite_tf.training import config
from lite_tf.training import settings as train_settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 2000  # the architectures' seeds: SEED, SEED + 1, ...
REFERENCE = "standalone"


def ranking(document: dict) -> dict[str, dict]:
    """Per estimator: Kendall's tau and Spearman's rho against stand-alone training, and over how
    many architectures."""
    rows = list(document["rows"].values())
    found = {}
    for name in sorted({n for r in rows for n in r["scores"]} - {REFERENCE}):
        both = [r["scores"] for r in rows if name in r["scores"] and REFERENCE in r["scores"]]
        if len(both) < 3:
            continue
        ours, truth = [s[name]["score"] for s in both], [s[REFERENCE]["score"] for s in both]
        tau, rho = stats.kendalltau(ours, truth)[0], stats.spearmanr(ours, truth)[0]
        # Undefined (None) when either side gives every architecture the same score.
        found[name] = {"archs": len(both), "kendall_tau": None if np.isnan(tau) else float(tau),
                       "spearman": None if np.isnan(rho) else float(rho),
                       "seconds": sum(s[name]["seconds"] for s in both)}
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="search_fashion_mnist", help="a search config")
    parser.add_argument("--gin_bindings", nargs="+", default=[], metavar="BINDING")
    parser.add_argument("--archs", type=int, default=12, help="random architectures (default: 12)")
    parser.add_argument("--standalone-epochs", type=int, default=5)
    parser.add_argument("--supernet-epochs", type=int, default=3)
    parser.add_argument("--estimators", nargs="+", default=["proxy", "train", "supernet"],
                        choices=list(estimate.ESTIMATORS))
    parser.add_argument("--root", default=os.path.join("runs", "search_estimators"),
                        help="the supernet's folder (default: runs/search_estimators)")
    parser.add_argument("--results", default=os.path.join(ROOT, "benchmarks", "results",
                                                          "search_estimators.json"))
    args = parser.parse_args(argv)
    if min(args.archs, args.standalone_epochs, args.supernet_epochs) < 1:
        parser.error("--archs, --standalone-epochs and --supernet-epochs must be at least 1")
    try:
        config.parse([config.resolve_config(args.config)], args.gin_bindings)
        s, training = search_settings.from_gin(), train_settings.from_gin()
        s.space.check()
        d = training.data
        classes = sources.num_classes(sources.get_builder(d.dataset, d.data_dir, d.manual_dir))
        files.writable_dir(os.path.dirname(os.path.abspath(args.results)), "the results' folder")
    except InputError as e:
        parser.error(str(e))
    document = {"config": args.config, "bindings": args.gin_bindings, "rows": {}}
    if os.path.exists(args.results):
        with open(args.results) as f:
            document = json.load(f)
    archs = [s.space.sample(random.Random(SEED + i)) for i in range(args.archs)]
    epochs = {REFERENCE: args.standalone_epochs, "train": s.epochs, "supernet": args.supernet_epochs,
              "proxy": 1}
    document["epochs"] = {n: epochs[n] for n in [*args.estimators, REFERENCE]}
    for name in [*args.estimators, REFERENCE]:
        make = estimate.short_training if name == REFERENCE else estimate.ESTIMATORS[name]
        estimator = None  # made at its first score, so a finished estimator costs nothing
        for i, arch in enumerate(archs):
            row = document["rows"].setdefault(arch.key(), {"seed": SEED + i, "arch": arch.to_dict(),
                                                           "scores": {}})
            if name in row["scores"]:
                continue
            estimator = estimator or make(estimate.Context(
                training, epochs[name], s.space, s.model_overrides, args.root, print))
            keras.backend.clear_session()
            model = build(arch, num_classes=classes, **(s.model_overrides or {}))
            started = time.time()
            score = float(estimator(model, arch))
            row["scores"][name] = {"score": score, "seconds": time.time() - started}
            document["ranking"] = ranking(document)
            files.write_json(args.results, document)
            print(f"{name} {i + 1}/{len(archs)} (seed {SEED + i}): {score:.4f} "
                  f"[{time.time() - started:.0f} s]", flush=True)
    print(f"{'estimator':>10} {'archs':>5} {'Kendall tau':>11} {'Spearman':>8} {'seconds':>8}")
    for name, r in ranking(document).items():
        tau, rho = (f"{v:.3f}" if v is not None else "undefined" for v in (r["kendall_tau"],
                                                                          r["spearman"]))
        print(f"{name:>10} {r['archs']:>5} {tau:>11} {rho:>8} {r['seconds']:>8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
