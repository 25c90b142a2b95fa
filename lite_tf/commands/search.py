"""lite-tf search --config NAME_OR_PATH [--config MORE ...] [--gin_bindings 'search.trials = 50' ...] [--workdir DIR]

Searches the architecture space for the most accurate model under an int8 latency budget on the
target device (python -m search is the same command): each trial suggests a candidate (Optuna:
NSGA-II for the accuracy / latency front, TPE under the budget, or random search), predicts its
int8 latency from the latency table (measuring the blocks the table lacks on the device: this CPU,
or a phone through the benchmark app over adb), prunes it if over the budget, and scores the rest
(a short training on the train.* data, or the NASWOT proxy). The folder (default
runs/searches/<config>; rerunning the command resumes it) gets results.json, front.csv,
front.png and best.gin, the best architecture as a training config: python -m train --config
<folder>/best.gin. Every search.* setting is listed in docs/search.md. Bad input (a missing
config, a gin error, an empty space, a budget below the space's fastest candidate, an unknown
device, a latency table of another device, an unreachable storage) is one line on stderr and exit
code 2 and writes nothing.
"""

from __future__ import annotations

from lite_tf import cli

HELP = "search the architecture space for the most accurate model under a latency budget"
ORDER = 2


def add_arguments(parser) -> None:
    cli.add_config(parser, "search.trials = 50",
                   "the search's folder (default: runs/searches/<config>; rerunning resumes it)")


def run(args, parser) -> int:
    from lite_tf.search.launch import search  # TensorFlow: after --help and the log level

    done = search(args.config, args.gin_bindings, args.workdir,
                  progress=lambda message: print(message, flush=True))
    r = done.results
    top = next((t for t in r["trials"] if t["trial"] == r["best"]), None)
    rows = [("strategy", r["strategy"]), ("estimator", r["estimator"]),
            ("trials", ", ".join(f"{n} {s}" for s, n in r["counts"].items() if n)),
            ("estimated", f"{r['estimated']} candidates, "
                          f"{sum(t['halted'] is not None for t in r['trials'])} halted early"),
            ("budget", f"{r['budget_ms']:.4g} ms" if r["budget_ms"] else "none"),
            ("device", r["device"]), ("front", f"{len(r['front'])} candidates")]
    if top:
        rows += [("best", f"trial {top['trial']}: {top['score']:.4f} at {top['latency_ms']:.3f} ms"),
                 ("train it", f"python -m train --config {done.folder.best_config}")]
    print(cli.summary([*rows, ("folder", done.folder.path)]))
    return 0
