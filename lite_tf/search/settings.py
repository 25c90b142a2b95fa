"""Typed search settings: every ``search.*`` gin binding, declared once (as ``train.*`` is in
lite_tf/training/settings.py), checked when made: a bad value is one line naming the binding.

The space is ``search.space = @search.Space()`` with its choices bound as ``search.Space.*``
(``search.Space.resolutions = (32,)``); what the candidates train and are evaluated on is the
``train.*`` settings (dataset, splits, image pipeline, optimizer), and the command writes them into
``best.gin`` with the best architecture, ready for ``python -m train``.
"""

from __future__ import annotations

import dataclasses

import gin

from lite_tf import checks
from lite_tf.checks import above, at_least, one_of
from lite_tf.errors import InputError
from lite_tf.search.estimate import ESTIMATORS
from lite_tf.search.latency import DEVICES
from lite_tf.search.space import Space
from lite_tf.search.strategy import PRUNERS, STRATEGIES
from lite_tf.training.settings import gin_settings

gin.external_configurable(Space, module="search")  # search.space = @search.Space()


def setting(default, help: str, check=None):  # noqa: A002  (argparse's name for it)
    return checks.field(default, check, help)


@dataclasses.dataclass(frozen=True)
class SearchSettings:
    """What ``python -m search`` searches, how, and against which latency."""

    space: Space = setting(Space(), "the search space: @search.Space() with search.Space.* "
                                    "choices (lite_tf/search/space.py)")
    strategy: str = setting("constrained", "pareto (NSGA-II front), constrained (most accurate "
                                           "under the budget, TPE) or random",
                            one_of(*STRATEGIES))
    estimator: str = setting("train", "how a candidate is scored: train (short training, "
                                      "val top-1), supernet (its slice of a weight-sharing "
                                      "supernet, val top-1) or proxy (NASWOT, zero-cost)",
                             one_of(*ESTIMATORS))
    epochs: int = setting(1, "epochs of the estimator's training: per candidate ('train') or of "
                             "the supernet, once ('supernet')", at_least(1))
    pruner: str | None = setting(None, "stop candidates between epochs of the 'train' estimator "
                                       "when behind the others at that epoch: halving "
                                       "(successive halving) or hyperband; search.epochs is the "
                                       "most one trains (lite_tf/search/strategy.py)",
                                 one_of(*PRUNERS))
    model_overrides: dict | None = setting(None, "create_model overrides for every candidate, "
                                                 "e.g. {'bn_momentum': 0.9}")
    trials: int = setting(20, "candidates the study estimates (finished, or halted by "
                              "search.pruner), all workers together",
                          at_least(1))
    budget_ms: float | None = setting(None, "int8 latency budget in ms on the device (candidates "
                                            "predicted over it are pruned unestimated)", above(0))
    budget_model: str | None = setting(None, "a zoo model (e.g. 'mobilenet_v2_035') whose int8 "
                                             "latency, measured whole on the device at the "
                                             "space's smallest resolution with "
                                             "search.model_overrides, is the budget")
    device: str = setting("host", "where latency is measured: host (this CPU), phone (the "
                                  "benchmark app over adb) or table (only the latency table's "
                                  "entries, measured before)", one_of(*DEVICES))
    threads: int = setting(1, "threads the latency is measured at", at_least(1))
    latency_table: str | None = setting(None, "the latency table file (default: "
                                              "<cache>/latency/<device>_<threads>t.json)")
    adb: str = setting("adb", "device 'phone': the adb executable")
    storage: str | None = setting(None, "Optuna storage URL shared by workers (default: "
                                        "study.db in the search's folder)")
    study: str = setting("search", "the study's name in the storage")
    seed: int = setting(0, "the sampler's seed (give each worker its own)", at_least(0))

    def __post_init__(self):
        checks.validate(self, "search")
        if not isinstance(self.space, Space):
            raise InputError(f"search.space must be @search.Space(), got {self.space!r}")
        if self.budget_ms is not None and self.budget_model is not None:
            raise InputError("search.budget_ms and search.budget_model both set the budget: "
                             "bind one")
        if self.pruner is not None:
            if self.estimator != "train" or self.epochs < 2:
                raise InputError(f"search.pruner stops candidates between epochs of training: it "
                                 f"needs search.estimator = 'train' and search.epochs >= 2 (here "
                                 f"{self.estimator!r}, {self.epochs})")
            if self.strategy == "pareto":
                raise InputError("search.pruner compares one score per epoch: Optuna prunes no "
                                 "multi-objective study; use strategy 'constrained' or 'random'")
        if self.device == "table" and self.budget_model is not None:
            raise InputError("search.budget_model is measured on the device, and 'table' has "
                             "none: set search.budget_ms")
        if self.device == "table" and self.latency_table is None:
            raise InputError("search.device = 'table' predicts from a table measured "
                                    "before: set search.latency_table")

    def record(self) -> dict:
        """The settings as JSON (the space as its dict)."""
        return {f.name: dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v
                for f in dataclasses.fields(self) for v in [getattr(self, f.name)]}


FIELDS = {f.name: f for f in dataclasses.fields(SearchSettings)}
search = gin_settings("search", FIELDS, SearchSettings,
                      "The search's settings: every search.* binding (lite_tf.search.settings).")


def from_gin() -> SearchSettings:
    """The settings the parsed gin config binds (``search.*``), defaults for the rest."""
    return search()


def describe() -> list[tuple[str, str, str, str]]:
    """(``search.<name>``, default, accepted values, help) for every setting."""
    return [(f"search.{f.name}", "search.Space()" if f.name == "space" else repr(f.default),
             checks.accepts(f.type, f.metadata["check"]), f.metadata["help"])
            for f in FIELDS.values()]
