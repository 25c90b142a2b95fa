"""benchmarks/search_estimators.py: each estimator's ranking against stand-alone training (Kendall's
tau, Spearman's rho), every score saved as measured and a rerun resuming; bad input exit 2."""

import json
import os

import pytest

from conftest import ROOT, load_script, run_script

SCRIPT = os.path.join(ROOT, "benchmarks", "search_estimators.py")


def _script():
    return load_script(SCRIPT)


def test_the_ranking_is_kendalls_tau_over_the_architectures_trained_stand_alone():
    truth = [0.9, 0.7, 0.8, 0.6]
    rows = {str(i): {"scores": {"standalone": {"score": t, "seconds": 10},
                                "train": {"score": t / 2, "seconds": 2},  # the same order
                                "proxy": {"score": -t, "seconds": 1}}}  # the reverse
            for i, t in enumerate(truth)}
    rows["4"] = {"scores": {"train": {"score": 0.0, "seconds": 2}}}  # no stand-alone figure yet
    rows["5"] = {"scores": {"supernet": {"score": 0.5, "seconds": 1},
                            "standalone": {"score": 0.5, "seconds": 10}}}
    found = _script().ranking({"rows": rows})
    assert set(found) == {"train", "proxy"}  # the supernet has one architecture: no figure
    assert found["train"]["kendall_tau"] == pytest.approx(1.0)
    assert found["proxy"]["kendall_tau"] == pytest.approx(-1.0)
    assert found["train"]["archs"] == 4 and found["train"]["seconds"] == 8
    # The best stand-alone architecture scored lowest: 2 of 6 pairs discordant, one tied.
    swapped = {**rows, "0": {"scores": {**rows["0"]["scores"], "train": {"score": 0.3, "seconds": 2}}}}
    assert _script().ranking({"rows": swapped})["train"]["kendall_tau"] == pytest.approx(0.1826, abs=1e-4)
    flat = {k: {"scores": {**r["scores"], "proxy": {"score": 1.0, "seconds": 1}}}
            for k, r in rows.items() if "standalone" in r["scores"]}
    assert _script().ranking({"rows": flat})["proxy"] == {  # one score for all: no ranking
        "archs": 5, "kendall_tau": None, "spearman": None, "seconds": 5}


def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys):
    results = tmp_path / "r.json"
    for args, said in ((["--archs", "0"], "must be at least 1"),
                       (["--config", "no_such_config"], "no_such_config")):
        with pytest.raises(SystemExit) as stopped:  # argparse's error: in this process, as exit 2
            _script().main([*args, "--results", str(results)])
        err = capsys.readouterr().err
        assert stopped.value.code == 2 and said in err.strip().splitlines()[-1], err
    assert not results.exists()


@pytest.mark.slow  # a supernet epoch and three one-epoch trainings on the digits
def test_every_estimator_is_scored_saved_and_resumed(tmp_path, digits_dir):
    results = tmp_path / "r.json"
    args = ["--config", "search_digits", "--archs", "3", "--standalone-epochs", "1",
            "--supernet-epochs", "1", "--estimators", "proxy", "supernet", "--root",
            str(tmp_path / "root"), "--results", str(results), "--gin_bindings",
            f"train.data_dir = {digits_dir!r}", "search.Space.depths = (1,)",
            # One block type and activation, no SE: a smaller supernet graph to trace (158 -> 110 s).
            "search.Space.blocks = ('inverted_residual',)", "search.Space.se = (False,)",
            "search.Space.activations = ('relu',)"]
    proc = run_script(SCRIPT, args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    saved = json.loads(results.read_text())
    assert len(saved["rows"]) == 3
    for row in saved["rows"].values():
        assert set(row["scores"]) == {"proxy", "supernet", "standalone"}
        assert 0 <= row["scores"]["supernet"]["score"] <= 1
    assert set(saved["ranking"]) == {"proxy", "supernet"}
    # A short supernet may give every architecture the same top-1: its tau is then undefined.
    assert all((r["kendall_tau"] is None or -1 <= r["kendall_tau"] <= 1) and r["archs"] == 3
               for r in saved["ranking"].values())
    assert (tmp_path / "root" / "supernet" / "checkpoint").exists()
    again = run_script(SCRIPT, args)
    assert again.returncode == 0 and "1/3" not in again.stdout  # nothing scored twice
    assert json.loads(results.read_text())["rows"] == saved["rows"]
