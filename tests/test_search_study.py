"""The search's strategies and study (lite_tf/search/strategy.py, study.py): trials on Optuna,
candidates over the budget pruned, an architecture estimated once, a killed search resumed with
no trial lost or repeated, two workers sharing one study; and the NASWOT proxy."""

import json
import re
import subprocess
import sys
import textwrap
import time

import numpy as np
import optuna
import pytest

from conftest import ROOT
from lite_tf import rundir
from lite_tf.backend import keras, layers
from lite_tf.errors import InputError
from lite_tf.search import estimate, results, strategy, study
from lite_tf.search.settings import SearchSettings
from lite_tf.search.space import Space

TINY = Space(depths=(1,), resolutions=(32,), widths=(1.0,), head=64,
             skeleton=((16, 1), (24, 2), (32, 2)))
COMPLETE, FAIL = optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL


def params_ms(model):
    """A stand-in latency: a real function of the model, quicker to get than the table's."""
    return model.count_params() / 1e4


def trials(store_url, name="s", states=(COMPLETE,)):
    s = optuna.load_study(study_name=name, storage=store_url)
    return s.get_trials(deepcopy=False, states=states)


def test_a_strategy_by_name_and_an_unknown_one_in_one_line():
    assert strategy.get("pareto").directions == ("maximize", "minimize")
    assert not strategy.get("constrained").multi_objective
    with pytest.raises(InputError, match="^unknown search strategy 'bayes': choose one of pareto, "
                                         "constrained, random$"):
        strategy.get("bayes")


@pytest.mark.parametrize("name", ["constrained", pytest.param("random", marks=pytest.mark.slow),
                                  pytest.param("pareto", marks=pytest.mark.slow)])
def test_a_budgeted_search_trains_only_candidates_under_the_budget(name, tmp_path, rng):
    images = rng.uniform(-1, 1, (16, 32, 32, 3)).astype("float32")
    estimated = []

    def score(model, arch):
        estimated.append(model)
        return estimate.naswot(model, images)

    chosen = strategy.get(name)
    url = rundir.SearchDir(str(tmp_path)).study_url
    s = study.open_study(study.storage(url), "s", chosen, seed=0)
    budget = 2.2  # about 60% of TINY's candidates (22,000 parameters)
    study.run(s, study.Objective(TINY, params_ms, score, chosen, budget), trials=4)
    done = trials(url)
    assert len(done) == 4 and len(estimated) == len({t.user_attrs["key"] for t in done})
    assert all(t.user_attrs["latency_ms"] <= budget for t in done)
    pruned = trials(url, states=(optuna.trial.TrialState.PRUNED,))
    assert all((t.user_attrs["latency_ms"] > budget) ==
               (t.user_attrs["pruned"] == f"over the budget of {budget:.4g} ms") for t in pruned)
    assert all(t.user_attrs["pruned"] == "the estimator gave -inf" for t in pruned
               if t.user_attrs["latency_ms"] <= budget)
    if chosen.multi_objective:
        assert all(t.values[1] == t.user_attrs["latency_ms"] for t in done)


@pytest.mark.slow  # 20 s of trials; the default suite is full
def test_a_study_whose_candidates_miss_the_budget_moves_towards_it():
    """Each budgeted trial carries its predicted latency less the budget as an Optuna constraint:
    TPE then suggests near the trials closest to the budget, where random search keeps missing."""
    budget = 0.95  # about 5% of TINY's candidates

    def feasible(sampler) -> int:
        s = optuna.create_study(direction="maximize", sampler=sampler)
        s.optimize(study.Objective(TINY, params_ms, lambda model, arch: 1.0,
                                   strategy.get("constrained"), budget), n_trials=30)
        for t in s.trials:
            assert t.constraints == {"latency": t.user_attrs["latency_ms"] - budget}
        return sum(t.state == COMPLETE for t in s.trials[10:])  # after TPE's 10 random ones

    steered, blind = (feasible(strategy.get(n).sampler(0)) for n in ("constrained", "random"))
    assert steered >= 5 and steered > 2 * blind, (steered, blind)


def test_an_architecture_is_estimated_once(tmp_path, rng):
    two = Space(blocks=("inverted_residual",), kernels=(3,), expansions=(3,), depths=(1,),
                widths=(1.0,), se=(False,), activations=("relu", "hard_swish"),
                resolutions=(32,), skeleton=((16, 2),), head=32)  # 2^1 architectures
    calls = []
    chosen = strategy.get("random")
    url = rundir.SearchDir(str(tmp_path)).study_url
    s = study.open_study(study.storage(url), "s", chosen)
    study.run(s, study.Objective(two, params_ms, lambda m, a: calls.append(1) or 1.0, chosen), 6)
    done = trials(url)
    assert len(done) == 6 and len(calls) == 2
    assert sum("same_as" in t.user_attrs for t in done) == 4


@pytest.mark.parametrize("pruner", ["halving", "hyperband"])
def test_a_pruner_halts_candidates_behind_at_an_epoch_and_counts_them_as_estimated(pruner,
                                                                                   tmp_path):
    epochs, trained = 3, []

    def score(model, arch, report):  # a stand-in learning curve: the smaller, the better
        final = 1 - params_ms(model) / 10
        for epoch in range(1, epochs + 1):
            trained.append(epoch)
            report(epoch, final * epoch / epochs)
        return final

    chosen = strategy.get("random")
    url = rundir.SearchDir(str(tmp_path)).study_url
    s = study.open_study(study.storage(url), "s", chosen, pruner=strategy.PRUNERS[pruner](epochs))
    study.run(s, study.Objective(TINY, params_ms, score, chosen, epochs=epochs), trials=9)
    every = trials(url, states=(COMPLETE, optuna.trial.TrialState.PRUNED))
    assert study.estimated(s) == len(every) == 9  # halted ones count: they cost their epochs
    ran = sorted((t for t in every if "same_as" not in t.user_attrs), key=lambda t: t.number)
    halted = [t for t in ran if t.state != COMPLETE]
    assert halted and len(halted) < len(ran) and len(trained) < epochs * len(ran)
    for t in ran:
        if t.state == COMPLETE:
            assert sorted(t.intermediate_values) == [1, 2, 3]
        else:
            assert sorted(t.intermediate_values) == list(range(1, t.user_attrs["halted"] + 1))
            assert t.user_attrs["pruned"].startswith(f"halted after epoch {t.user_attrs['halted']}"
                                                     f" of 3 at ")
    # A candidate ahead of every one before it at an epoch is never halted there.
    for i, t in enumerate(ran):
        for epoch, value in t.intermediate_values.items():
            if all(value > o.intermediate_values.get(epoch, -1) for o in ran[:i]):
                assert t.user_attrs.get("halted") != epoch, (t.number, epoch)
    rows = results.rows(s)
    assert {r["trial"]: r["curve"] for r in rows} == {
        t.number: [t.intermediate_values[e] for e in sorted(t.intermediate_values)] or None
        for t in every}
    assert all(r["score"] == r["curve"][-1] for r in rows if r["halted"] and r["curve"])


def test_a_pruner_needs_a_single_score_trained_over_epochs():
    for given, says in (({"estimator": "proxy", "epochs": 3}, "needs search.estimator = 'train' "
                                                              "and search.epochs >= 2"),
                        ({"epochs": 1}, "(here 'train', 1)"),
                        ({"epochs": 3, "strategy": "pareto"}, "Optuna prunes no multi-objective")):
        with pytest.raises(InputError, match=re.escape(says)):
            SearchSettings(pruner="halving", **given)
    assert SearchSettings(pruner="halving", epochs=3).pruner == "halving"


WORKER = textwrap.dedent('''
    import os, sys, json
    import lite_tf
    import numpy as np
    from lite_tf.search import estimate, strategy, study
    from lite_tf.search.space import Space
    url, seed, trials, die_at, log = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    space = Space(depths=(1,), resolutions=(32,), widths=(1.0,), head=64,
                  skeleton=((16, 1), (24, 2), (32, 2)))
    images = np.random.default_rng(0).uniform(-1, 1, (16, 32, 32, 3)).astype("float32")
    calls = []

    def score(model, arch):
        calls.append(1)
        if len(calls) == die_at:
            os._exit(9)  # killed mid-trial: no cleanup, the trial left RUNNING
        with open(log, "a") as f:
            f.write(json.dumps({"seed": seed, "model": model.get_config()["name"]}) + "\\n")
        return estimate.naswot(model, images)

    chosen = strategy.get("constrained")
    s = study.open_study(study.storage(url, heartbeat=1, grace=2), "s", chosen, seed=seed)
    study.run(s, study.Objective(space, lambda m: m.count_params() / 1e4, score, chosen), trials)
''')


def worker(tmp_path, seed, trials_, die_at=0):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    url = rundir.SearchDir(str(tmp_path)).study_url
    return subprocess.Popen([sys.executable, str(script), url, str(seed), str(trials_), str(die_at),
                             str(tmp_path / "estimated.log")], cwd=ROOT, stderr=subprocess.PIPE,
                            text=True)


@pytest.mark.slow
def test_a_killed_search_resumes_with_no_trial_lost_or_repeated(tmp_path):
    url = rundir.SearchDir(str(tmp_path)).study_url
    killed = worker(tmp_path, 0, 5, die_at=3)
    assert killed.wait(timeout=300) == 9
    assert len(trials(url)) == 2
    running = trials(url, states=(optuna.trial.TrialState.RUNNING,))
    assert len(running) == 1
    lost = running[0].params
    time.sleep(3)  # the grace period: the killed trial's heartbeat is stale
    resumed = worker(tmp_path, 1, 5)
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()[-2000:]
    done = trials(url)
    assert len(done) == 5
    assert len({t.user_attrs["key"] for t in done}) == 5  # nothing repeated
    assert [t.params for t in trials(url, states=(FAIL,))] == [lost]
    assert lost in [t.params for t in done]  # nothing lost: the killed trial ran again


@pytest.mark.slow
def test_two_workers_share_one_study_with_no_duplicate_trial(tmp_path):
    url = rundir.SearchDir(str(tmp_path)).study_url
    study.open_study(study.storage(url), "s", strategy.get("constrained"))
    workers = [worker(tmp_path, seed, 6) for seed in (1, 2)]
    for w in workers:
        assert w.wait(timeout=300) == 0, w.stderr.read()[-2000:]
    done = trials(url)
    assert 6 <= len(done) <= 7  # a worker may start one trial as the other finishes the sixth
    logged = [json.loads(line) for line in (tmp_path / "estimated.log").read_text().splitlines()]
    assert {entry["seed"] for entry in logged} == {1, 2}  # both worked
    keys = [t.user_attrs["key"] for t in done if "same_as" not in t.user_attrs]
    assert len(keys) == len(set(keys)) == len(logged)  # each architecture estimated once


def test_a_search_of_another_strategy_or_an_unreachable_storage_is_one_line(tmp_path):
    url = rundir.SearchDir(str(tmp_path)).study_url
    study.open_study(study.storage(url), "s", strategy.get("pareto"))
    with pytest.raises(InputError, match="^search 's' was started with strategy 'pareto', not 'random'"):
        study.open_study(study.storage(url), "s", strategy.get("random"))
    with pytest.raises(InputError, match="^cannot open the search's storage sqlite:////no/such/dir/"):
        study.storage("sqlite:////no/such/dir/study.db")


def test_naswot_scores_distinct_codes_higher(rng):
    """A network whose units split the images differently scores higher than one whose units
    all agree (a constant input to its ReLUs)."""
    images = rng.uniform(-1, 1, (8, 4, 4, 3)).astype("float32")
    inputs = keras.Input((4, 4, 3))
    varied = keras.Model(inputs, layers.ReLU(name="r")(layers.Conv2D(16, 1, name="c")(inputs)))
    flat = keras.Model(inputs, layers.ReLU(name="r")(layers.Conv2D(
        16, 1, kernel_initializer="zeros", bias_initializer="ones", name="c")(inputs)))
    assert estimate.naswot(varied, images) > estimate.naswot(flat, images)
    assert estimate.naswot(flat, images) == float("-inf")  # every code equal: a singular kernel
    with pytest.raises(InputError, match="no ReLU or hard-swish layer"):
        estimate.naswot(keras.Model(inputs, layers.Conv2D(2, 1)(inputs)), images)
