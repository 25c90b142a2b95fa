"""A search as an Optuna study: each trial suggests an architecture of the space, predicts its
latency, prunes it if it is over the budget, and estimates its accuracy.

The study lives in Optuna's storage: by default an SQLite file in the search's run directory, or
any database URL Optuna takes, so workers on several machines share one study. Trials send a
heartbeat: a trial whose worker died (killed, a machine gone) is marked failed once its heartbeat
is ``GRACE`` seconds old and run again, with the same architecture, by the next worker to start a
trial; a finished trial is never run again. An architecture already estimated in the study is not
estimated twice: its trial takes the earlier figures.

With a pruner (``search.pruner``), the estimator reports the candidate's score after each epoch
and the pruner may halt it there; a halted candidate counts as estimated (it cost its epochs), so
``trials`` is the number of candidates estimated, finished or halted.
"""

from __future__ import annotations

import math
from typing import Callable

import optuna

from lite_tf.errors import InputError
from lite_tf.search.space import Space, build
from lite_tf.search.strategy import Strategy

HEARTBEAT, GRACE = 10, 30  # seconds
COMPLETE, PRUNED = optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED


def storage(url: str, heartbeat: int = HEARTBEAT, grace: int = GRACE) -> optuna.storages.RDBStorage:
    """Optuna's storage at ``url`` (``sqlite:///path`` or a database URL), with heartbeats and the
    retry of trials whose worker died; one line if it cannot be opened."""
    try:
        return optuna.storages.RDBStorage(
            url, heartbeat_interval=heartbeat, grace_period=grace,
            heartbeat_stale_trial_callback=optuna.storages.RetryFailedTrialCallback(max_retry=3),
            engine_kwargs={"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None)
    except Exception as e:  # noqa: BLE001 (SQLAlchemy's and the drivers' errors: one line)
        said = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"cannot open the search's storage {url}: {said}") from None


def open_study(store, name: str, strategy: Strategy, seed: int = 0, budget_ms: float | None = None,
               measured: bool = False, pruner: optuna.pruners.BasePruner | None = None
               ) -> optuna.Study:
    """The study ``name`` in ``store`` (created if new); one line if it was started with another
    strategy. Each worker passes its own ``seed`` (and the search's ``pruner``, if any). A
    ``measured`` ``budget_ms`` (a model's latency on the device, a little different each time) is
    kept from the study's first start: the study's ``budget_ms`` attribute."""
    study = optuna.create_study(storage=store, study_name=name, sampler=strategy.sampler(seed),
                                pruner=pruner, directions=list(strategy.directions),
                                load_if_exists=True)
    started = study.user_attrs.get("strategy")
    if started is None:
        study.set_user_attr("strategy", strategy.name)
    elif started != strategy.name:
        raise InputError(f"search {name!r} was started with strategy {started!r}, not "
                         f"{strategy.name!r}: use its strategy or a new name")
    if measured and budget_ms is not None:
        study.set_user_attr("budget_ms", study.user_attrs.get("budget_ms", budget_ms))
    return study


class Objective:
    """What a trial does: ``latency(model) -> ms`` (the latency table's prediction),
    ``estimate(model, arch) -> score`` (an estimator on the search's data); candidates are built
    with ``overrides`` (``create_model``'s, e.g. ``bn_momentum``). With ``epochs`` (the study has
    a pruner), the estimator is called as ``estimate(model, arch, report)`` and reports after each
    of its ``epochs``: the study's pruner may halt the candidate there."""

    def __init__(self, space: Space, latency: Callable, estimate: Callable, strategy: Strategy,
                 budget_ms: float | None = None, num_classes: int = 10,
                 overrides: dict | None = None, epochs: int | None = None):
        self.space, self.latency, self.estimate = space, latency, estimate
        self.strategy, self.budget_ms, self.num_classes = strategy, budget_ms, num_classes
        self.overrides = dict(overrides or {})  # create_model's, for every candidate
        self.epochs = epochs

    def __call__(self, trial: optuna.Trial):
        arch = self.space.suggest(trial)
        key = arch.key()
        trial.set_user_attr("arch", arch.to_dict())
        trial.set_user_attr("key", key)
        earlier = next((t for t in trial.study.get_trials(deepcopy=False, states=(
            COMPLETE, PRUNED)) if t.user_attrs.get("key") == key and is_estimated(t)), None)
        if earlier is not None:
            trial.set_user_attr("latency_ms", earlier.user_attrs["latency_ms"])
            trial.set_user_attr("same_as", earlier.number)
            if earlier.state == PRUNED:
                trial.set_user_attr("halted", earlier.user_attrs["halted"])
                raise _pruned(trial, earlier.user_attrs["pruned"])
            return tuple(earlier.values) if self.strategy.multi_objective else earlier.value
        model = build(arch, num_classes=self.num_classes, **self.overrides)
        ms = float(self.latency(model))
        trial.set_user_attr("latency_ms", ms)
        if self.budget_ms is not None:  # the samplers steer by how far over the budget it is
            trial.set_constraint("latency", ms - self.budget_ms)
        if self.budget_ms is not None and ms > self.budget_ms:
            raise _pruned(trial, f"over the budget of {self.budget_ms:.4g} ms")
        score = float(self.estimate(model, arch) if self.epochs is None else
                      self.estimate(model, arch, self._reporter(trial)))
        if not math.isfinite(score):
            raise _pruned(trial, f"the estimator gave {score}")
        return (score, ms) if self.strategy.multi_objective else score

    def _reporter(self, trial: optuna.Trial):
        """``report(epoch, score)``: the score to the study; halts the trial if its pruner says."""
        def report(epoch: int, score: float) -> None:
            trial.report(score, epoch)
            if epoch < self.epochs and trial.should_prune():
                trial.set_user_attr("halted", epoch)
                raise _pruned(trial, f"halted after epoch {epoch} of {self.epochs} at "
                                     f"{score:.4f}, behind the candidates that got as far")
        return report


def is_estimated(trial: optuna.trial.FrozenTrial) -> bool:
    """Finished, or halted by the pruner after its first epochs: its candidate was estimated."""
    return trial.state == COMPLETE or (trial.state == PRUNED and "halted" in trial.user_attrs)


def estimated(study: optuna.Study) -> int:
    """How many of the study's trials estimated their candidate (``is_estimated``)."""
    return sum(map(is_estimated, study.get_trials(deepcopy=False, states=(COMPLETE, PRUNED))))


def _pruned(trial: optuna.Trial, why: str) -> optuna.TrialPruned:
    """The trial pruned, with why in its attributes (``pruned``)."""
    trial.set_user_attr("pruned", why)
    return optuna.TrialPruned(why)


def run(study: optuna.Study, objective: Objective, trials: int, callbacks=()) -> None:
    """Trials until the study holds ``trials`` estimated ones, whichever worker ran them."""
    def enough(st: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if estimated(st) >= trials:
            st.stop()

    if estimated(study) >= trials:
        return
    study.optimize(objective, callbacks=[enough, *callbacks], gc_after_trial=True)
