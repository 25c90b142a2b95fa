"""Launching a training run from gin configs: parse them (a stage's parent config first), choose
or resume the run directory, train, and record the run. What ``python -m train`` does. A binding the run ignores (of a configurable
it never calls, or of a parameter it passes itself) is an error before anything is written."""

from __future__ import annotations

import contextlib
import dataclasses

from lite_tf import rundir
from lite_tf.compression import stage
from lite_tf.training import callbacks, config, settings, trainer


@dataclasses.dataclass(frozen=True)
class Launched:
    """A finished training run: its directory, its stage and its final figures (metrics.json)."""

    run: rundir.RunDir
    stage: stage.Stage
    final: dict


def launch(configs: list[str], bindings: list[str], workdir: str | None = None,
           init_from: str | None = None, progress=print) -> Launched:
    """Parse the configs and bindings and train. With ``init_from`` (or ``train.init_from``
    bound), that run's config.gin is parsed first: a compression stage keeps the run's model, data
    and recipe and changes what its own config says. ``progress`` is told the run directory once
    it is chosen (after every check)."""
    paths = [config.resolve_config(c) for c in configs]
    config.parse(paths, bindings)
    own = config.bound()  # what the user's configs and bindings say (not a parent's config.gin)
    command = {"config": paths, "gin_bindings": bindings}
    if init_from is None:
        init_from = config.query("train.init_from")
    else:
        command["init_from"] = init_from
    parent = None
    if init_from:
        parent = rundir.parent_run(init_from, command)
        config.parse([parent.dir.config, *paths], [*bindings, f"train.init_from = {parent.workdir!r}"])
    with trainer.prepare(settings.from_gin()) as job:
        config.check_used(own, trainer.SET_BY)  # every configurable of the run has been called
        run = rundir.choose(paths, command, workdir)
        with run.locked() if job.worker == 0 else contextlib.nullcontext():
            if job.worker == 0:
                callbacks.check_backup(run.backup)  # before anything is written
                run.start(command, parent.workdir if parent else None)
            progress(f"workdir: {run.path}")
            return Launched(run, job.stage, job.fit(run))
