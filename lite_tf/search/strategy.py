"""Search strategies: which Optuna sampler explores the space, and what the study optimizes.

- ``pareto``: NSGA-II (Deb et al. 2002) on (accuracy, predicted latency), the trade-off front;
- ``constrained``: the most accurate candidate under the latency budget: TPE;
- ``random``: uniform random search, the baseline every strategy must beat at equal cost (Li and
  Talwalkar 2019).

With a budget, a candidate predicted over it is pruned before it is estimated (lite_tf/search/
study.py) with an Optuna constraint, its predicted latency less the budget: TPE and NSGA-II
suggest near the trials closest to the budget while none meets it, so a study whose first
candidates all miss the budget moves towards it. (A pruned trial alone tells TPE nothing: with no
intermediate values, all pruned trials rank alike.)

Pruners stop a candidate between epochs of the ``train`` estimator when its validation top-1 so
far is not among the best of the candidates that got as far (multi-fidelity estimation): most
candidates cost an epoch, the promising ones train for all of ``search.epochs``. Registered:

- ``halving``: asynchronous successive halving (Li et al. 2020, "A System for Massively Parallel
  Hyperparameter Tuning"): rungs at epochs 1, 3, 9, ..., the top third of each rung goes on;
- ``hyperband``: Hyperband (Li et al. 2018): several successive-halving brackets, from
  aggressive to none, so a candidate slow to start is not always cut after one epoch.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import optuna

from lite_tf.errors import InputError


@dataclasses.dataclass(frozen=True)
class Strategy:
    name: str
    directions: tuple[str, ...]  # the study's: accuracy, and for the front latency
    sampler: Callable[[int], optuna.samplers.BaseSampler]  # seed -> sampler

    @property
    def multi_objective(self) -> bool:
        return len(self.directions) > 1


STRATEGIES = {s.name: s for s in (
    Strategy("pareto", ("maximize", "minimize"), lambda seed: optuna.samplers.NSGAIISampler(seed=seed)),
    Strategy("constrained", ("maximize",), lambda seed: optuna.samplers.TPESampler(seed=seed)),
    Strategy("random", ("maximize",), lambda seed: optuna.samplers.RandomSampler(seed=seed)),
)}


PRUNERS: dict[str, Callable[[int], optuna.pruners.BasePruner]] = {  # epochs -> pruner
    "halving": lambda epochs: optuna.pruners.SuccessiveHalvingPruner(min_resource=1,
                                                                     reduction_factor=3),
    "hyperband": lambda epochs: optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs,
                                                               reduction_factor=3),
}


def get(name: str) -> Strategy:
    if name not in STRATEGIES:
        raise InputError(f"unknown search strategy {name!r}: choose one of {', '.join(STRATEGIES)}")
    return STRATEGIES[name]
