"""Launching a search from gin configs: what ``python -m search`` does. Parse the configs
(``search.*`` and the ``train.*`` the candidates train on), check every input before anything is
written, open the search's folder, the latency table and the study, run trials until the study
has the number asked for, and write the results after each trial.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

import optuna

from lite_tf import rundir
from lite_tf.data import sources
from lite_tf.errors import InputError
from lite_tf.models import create_model
from lite_tf.search import estimate, latency, results, strategy, study
from lite_tf.search import settings as search_settings
from lite_tf.search.space import Space, build
from lite_tf.training import config
from lite_tf.training import settings as train_settings


# What a rerun may change and still resume the search in its folder.
RESUMABLE = ("search.trials", "search.seed", "search.storage")


@dataclasses.dataclass(frozen=True)
class Searched:
    """A search that has its trials: its folder and its results document."""

    folder: rundir.SearchDir
    results: dict


def fastest(space: Space):
    """The candidates of ``space`` that should be its fastest, one per block type: every other
    dimension at its cheapest choice."""
    cheapest = {"resolution": min(space.resolutions),
                "identity_multiplier": max(space.identity_multipliers)}
    for i in range(1, len(space.skeleton) + 1):
        cheapest.update({f"s{i}_kernel": min(space.kernels), f"s{i}_expansion": min(space.expansions),
                         f"s{i}_depth": min(space.depths), f"s{i}_width": min(space.widths),
                         f"s{i}_se": min(space.se), f"s{i}_activation": (
                             "relu" if "relu" in space.activations else space.activations[0])})
    return [space.choose({**cheapest, **{f"s{i}_block": b for i in range(1, len(space.skeleton) + 1)}})
            for b in space.blocks]


def measured_budget(s: search_settings.SearchSettings, predict: latency.Predictor, classes: int,
                    progress: Callable[[str], None]) -> float:
    """``search.budget_model``'s int8 latency, measured whole on the search's device at the
    space's smallest resolution (with the candidates' ``model_overrides``)."""
    r = min(s.space.resolutions)
    model = create_model(s.budget_model, num_classes=classes, input_shape=(r, r, 3),
                         **(s.model_overrides or {}))
    ms = predict.measured(model)
    progress(f"budget: {s.budget_model} at {r}x{r} measures {ms:.3f} ms on {predict.device}")
    return ms


def search(configs: list[str], bindings: list[str], workdir: str | None = None,
           progress: Callable[[str], None] = print) -> Searched:
    """Run (or resume) the search the configs and bindings describe."""
    paths = [config.resolve_config(c) for c in configs]
    config.parse(paths, bindings)
    own = config.bound()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # a line per trial is ours
    s = search_settings.from_gin()
    training = train_settings.from_gin()
    config.check_used(own, {})
    for name, why in (("model", "a search trains its own candidates"),
                      ("model_overrides", "a search trains its own candidates"),
                      ("image_size", "each candidate trains at its resolution "
                                     "(search.Space.resolutions)")):
        if any(selector.endswith("train") and param == name for _, selector, param in own):
            raise InputError(f"train.{name} is bound: {why}; remove the binding")
    s.space.check()
    estimator = estimate.get(s.estimator)(estimate.Context(  # checks what it needs, writes nothing
        training, s.epochs, s.space, s.model_overrides, rundir.search_path(paths, workdir), progress))
    d = training.data
    classes = sources.num_classes(sources.get_builder(d.dataset, d.data_dir, d.manual_dir))
    chosen = strategy.get(s.strategy)
    store = study.storage(s.storage) if s.storage else None  # a bad URL: before any file
    command = {"config": paths, "gin_bindings": bindings}
    predict = latency.Predictor(s.device, s.threads, s.latency_table, s.adb, progress,
                                what="search.latency_table")
    budget = s.budget_ms
    if s.budget_model is not None:
        budget = measured_budget(s, predict, classes, progress)
    if budget is not None:
        ms, quickest = min(((predict(build(a, num_classes=classes, **(s.model_overrides or {}))), a)
                            for a in fastest(s.space)),
                           key=lambda found: found[0])
        if ms > budget:
            said = (f"search.budget_ms = {budget}" if s.budget_model is None else
                    f"the budget ({s.budget_model}: {budget:.3f} ms)")
            raise InputError(f"{said} is below the space's fastest "
                             f"candidate ({ms:.3f} ms predicted on {predict.device}, "
                             f"{results.summary(quickest.to_dict())}): raise the budget or "
                             f"shrink the space")

    recorded = {**{f"search.{k}": v for k, v in s.record().items()},
                **{f"train.{k}": v for k, v in training.record().items()}}
    folder = rundir.choose_search(paths, recorded, workdir, free=RESUMABLE)
    folder.start(command, recorded)
    progress(f"search folder: {folder.path}")
    store = store or study.storage(folder.study_url)
    trials = study.open_study(store, s.study, chosen, s.seed, budget,
                              measured=s.budget_model is not None,
                              pruner=strategy.PRUNERS[s.pruner](s.epochs) if s.pruner else None)
    if s.budget_model is not None:  # measured again on every start: the first start's stays
        budget = trials.user_attrs["budget_ms"]
    record = {**s.record(), "budget_ms": budget}
    objective = study.Objective(s.space, predict, estimator, chosen, budget, classes,
                                s.model_overrides, epochs=s.epochs if s.pruner else None)
    started = time.time()

    def report(st: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        done = results.write(folder, st, training, record, predict.device)
        progress(_trial_line(trial, done, s, time.time() - started))

    study.run(trials, objective, s.trials, callbacks=[report])
    return Searched(folder, results.write(folder, trials, training, record, predict.device))


def _trial_line(trial, done: dict, s: search_settings.SearchSettings, seconds: float) -> str:
    ms = trial.user_attrs.get("latency_ms")
    head = f"trial {trial.number}: {ms:.3f} ms" if ms is not None else f"trial {trial.number}:"
    if trial.state == optuna.trial.TrialState.COMPLETE:
        again = trial.user_attrs.get("same_as")
        what = f"{s.estimator} {trial.values[0]:.4f}" + (f" (as trial {again})" if again is not None
                                                          else "")
    elif trial.state == optuna.trial.TrialState.PRUNED:
        what = f"pruned: {trial.user_attrs.get('pruned', 'no reason given')}"
    else:
        what = trial.state.name.lower()
    top = next((t for t in done["trials"] if t["trial"] == done["best"]), None)
    best = f"best {top['score']:.4f} at {top['latency_ms']:.3f} ms" if top else "no best yet"
    return (f"{head} {what} | {done['estimated']}/{s.trials} estimated, {best} "
            f"[{seconds:.0f} s]")
