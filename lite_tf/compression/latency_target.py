"""Latency targets, NetAdapt-style (Yang et al. 2018): shrink a model one step at a time, each
step the proposal that loses the least accuracy per millisecond saved, until its predicted int8
latency on the device reaches the target.

What shrinks is a set of named sizes (channel groups for ``channel_prune``, factor ranks for
``low_rank``), each stepping down through ``levels`` levels of its full size. Every step proposes
one more level of each size, builds that model with the stage's own weights (no training),
measures its top-1 and loss on ``samples`` training images and predicts its latency from the
latency table (lite_tf/search/latency.py, the search's: units it lacks are measured first, with
the benchmark's code), then keeps the proposal with the fewest points lost per millisecond saved
(ties: the least loss added per millisecond). NetAdapt fine-tunes every proposal briefly; here the
stage's fine-tuning comes once, after the last step.

On the host the result is then measured end to end against the model it came from (int8, rounds
alternating, ``host.median_p50``): a table predicts a whole model to within about 10% (and
MobileNetV1-0.5 at 32x32, 0.085 ms, 17% under), so while the result measures over the target by
more than ``tolerance`` the predicted target is scaled by the miss and the walk goes on, and when it
measures under by more than that, the walk goes back (bisecting its steps, each measured) to the
first step that measures within.
"""

from __future__ import annotations

import dataclasses
import tempfile
from typing import Callable

import gin
import numpy as np

from lite_tf.checks import above, at_least, field, one_of, validate, within
from lite_tf.deploy.benchmark import host
from lite_tf.deploy.convert import write_random_int8
from lite_tf.errors import InputError
from lite_tf.models.profile import profile_model
from lite_tf.search import latency

CHECKS = 3  # end-to-end measurements (each followed by more walking while over the target)


@gin.configurable(module="latency_target")
@dataclasses.dataclass(frozen=True)
class LatencyTarget:
    """Where a stage's ``target_ms`` or ``target_latency`` is measured, and how finely it is
    approached."""

    device: str = field("host", one_of(*latency.DEVICES),
                        help="host (this CPU), phone (the benchmark app over adb) or table "
                             "(only the latency table's entries, measured before)")
    threads: int = field(1, at_least(1), help="threads the latency is measured at")
    table: str | None = field(None, help="the latency table file (default: the search's, "
                                         "<cache>/latency/<device>_<threads>t.json)")
    adb: str = field("adb", help="device 'phone': the adb executable")
    levels: int = field(8, at_least(2), help="each size shrinks in steps of 1/levels of its full size")
    samples: int = field(512, at_least(1), help="training images each proposal's top-1 is measured on")
    tolerance: float | None = field(0.05, within(0, 1, low_open=True),
                                    help="host: walk on while the result measures over the target "
                                         "by more than this (None: trust the table)")
    rounds: int = field(7, at_least(1), help="alternating rounds of that end-to-end measurement")

    def check(self) -> None:
        validate(self, "latency_target.LatencyTarget")

    def predictor(self, progress=None) -> latency.Predictor:
        return latency.Predictor(self.device, self.threads, self.table, self.adb, progress,
                                 what="latency_target.LatencyTarget.table")


@dataclasses.dataclass(frozen=True)
class Targets:
    """The targets a stage's settings take (channel_prune.ChannelPruning, low_rank.LowRank, which
    add their ``target_macs``): at most one of them."""

    target_ms: float | None = field(None, above(0), help="int8 latency target in ms on "
                                                            "latency_target.LatencyTarget's device")
    target_latency: float | None = field(None, within(0, 1, low_open=True, high_open=True),
                                         help="latency target as a fraction of the model's")

    @property
    def by_latency(self) -> bool:
        return self.target_ms is not None or self.target_latency is not None

    def one_target(self, name: str) -> None:
        """One line naming the targets when ``name`` (the settings' gin name) has several."""
        targets = [f for f in ("target_macs", "target_ms", "target_latency") if getattr(self, f, None) is not None]
        if len(targets) > 1:
            raise InputError(f"{name} takes one target, got {' and '.join(targets)}")


@dataclasses.dataclass
class Point:
    """One model on the way: its sizes, predicted latency (ms), top-1 and loss on the samples."""

    sizes: dict
    ms: float
    top1: float
    loss: float
    changed: str = ""  # the size this step shrank


def held_out(batches, samples: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``samples`` images and labels of ``batches`` ((images, one-hot labels))."""
    images, labels, seen = [], [], 0
    for x, y in batches:
        if seen >= samples:
            break
        images.append(np.asarray(x)[: samples - seen])
        labels.append(np.asarray(y)[: samples - seen])
        seen += len(images[-1])
    if not seen:
        raise InputError("no training images to measure the proposals' accuracy on")
    return np.concatenate(images), np.concatenate(labels)


def scorer(images: np.ndarray, labels: np.ndarray) -> Callable[[object], tuple[float, float]]:
    """(top-1, mean cross-entropy) of a model on ``images``."""
    def score(model) -> tuple[float, float]:
        probs = np.concatenate([np.asarray(model(images[i:i + 256], training=False))
                                for i in range(0, len(images), 256)]).astype(np.float64)
        truth = labels.argmax(-1)
        loss = -np.log(np.clip(probs[np.arange(len(truth)), truth], 1e-12, None)).mean()
        return float((probs.argmax(-1) == truth).mean()), float(loss)
    return score


def resolve(target_ms: float | None, fraction: float | None, base_ms: float, device: str) -> float:
    """The target in ms (``fraction`` of the base's predicted latency if given); one line if it
    is not below the base."""
    target = target_ms if target_ms is not None else fraction * base_ms
    if target >= base_ms:
        raise InputError(f"the latency target {target:.4f} ms is not below the model's "
                         f"predicted {base_ms:.4f} ms on {device}")
    return target


def floor(start: dict, smaller, build, predict, start_ms: float) -> float:
    """The predicted ms of ``start`` with each size at the level that alone predicts fastest:
    about the fastest a walk reaches, known before it starts (a smaller level need not be faster:
    a low-rank factorization can cost more than the full layer)."""
    sizes = dict(start)
    for name, size in start.items():
        levels = []
        while (size := smaller(name, size)) is not None:
            levels.append(size)
        times = predict([build({**start, name: level}) for level in levels]) if levels else []
        best = min(zip(times, levels), default=(start_ms, None))
        if best[0] < start_ms:
            sizes[name] = best[1]
    return predict([build(sizes)])[0]


def shrink(start: dict, smaller: Callable[[str, object], object | None], build, predict, score,
           target_ms: float, progress: Callable[[str], None] = print) -> list[Point]:
    """The greedy walk from ``start`` (sizes) down to ``target_ms``: every point, the last the
    first predicted at or under the target. ``smaller(name, size)``: the next size down, None at
    the smallest; ``build(sizes)``: the model; ``predict(models)``: their ms (one call per round
    of proposals, so a table measures what they lack together); ``score(model)``: (top-1, loss)."""
    model = build(start)
    path = [Point(dict(start), predict([model])[0], *score(model))]
    if path[0].ms > target_ms:  # known before the walk, which can take many minutes
        fastest = floor(start, smaller, build, predict, path[0].ms)
        if fastest > target_ms:
            raise InputError(f"cannot reach {target_ms:.4f} ms: with every size at its fastest "
                             f"level the model is predicted {fastest:.4f} ms")
    while path[-1].ms > target_ms:
        here, best, best_key = path[-1], None, None
        # Each size one level down; a level that predicts no faster goes down another.
        pending = {name: dict(here.sizes) for name in here.sizes}
        ready = {}
        while pending:
            for name, proposal in list(pending.items()):
                proposal[name] = smaller(name, proposal[name])
                if proposal[name] is None:
                    del pending[name]
            models = {name: build(proposal) for name, proposal in pending.items()}
            for (name, m), ms in zip(models.items(), predict(list(models.values()))):
                if ms < here.ms:
                    ready[name] = (pending.pop(name), m, ms)
        for name, (proposal, m, ms) in ready.items():
            top1, loss = score(m)
            saved = here.ms - ms
            key = ((here.top1 - top1) / saved, (loss - here.loss) / saved)
            if best_key is None or key < best_key:
                best, best_key = Point(proposal, ms, top1, loss, name), key
        if best is None:
            raise InputError(f"cannot reach {target_ms:.4f} ms: every size is at its smallest "
                             f"and the model is predicted {here.ms:.4f} ms")
        path.append(best)
        progress(f"latency target: step {len(path) - 1}: {best.changed} -> {best.sizes[best.changed]}, "
                 f"{best.ms:.4f} ms predicted (target {target_ms:.4f}), top-1 {best.top1:.1%} "
                 f"on the samples before fine-tuning")
    return path


def measured(base, model, threads: int, rounds: int) -> tuple[float, float]:
    """Host int8 latency (ms) of ``base`` and ``model``, rounds alternating (``host.median_p50``)."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_random_int8({"base": base, "model": model}, tmp)
        ms = host.median_p50(paths, threads, runs=100, rounds=rounds)
    return ms["base"], ms["model"]


def reach(model, start: dict, smaller, build, target_ms: float | None, fraction: float | None,
          batches, where: LatencyTarget, progress=print) -> tuple[dict, dict]:
    """Walk ``model`` from sizes ``start`` down to the target (``target_ms``, or ``fraction`` of
    its latency) on ``where``'s device: the sizes reached and the walk's figures."""
    where.check()
    predictor = where.predictor(progress)
    base_ms = predictor(model)
    target = resolve(target_ms, fraction, base_ms, predictor.device)
    predict = predictor.many
    score = scorer(*held_out(batches, where.samples))
    path = shrink(start, smaller, build, predict, score, target, progress)
    checks, goal = {}, target

    def check(i: int) -> tuple[float, float]:
        """Step ``i`` measured against the model: (its ms, the ms wanted)."""
        base_real, real = measured(model, build(path[i].sizes), where.threads, where.rounds)
        wanted = target_ms if target_ms is not None else fraction * base_real
        checks[i] = {"step": i, "predicted_ms": path[i].ms, "measured_ms": real,
                     "base_measured_ms": base_real, "wanted_ms": wanted}
        progress(f"latency target: step {i} measured {real:.4f} ms ({real / base_real:.3f}x the "
                 f"model's {base_real:.4f} ms), wanted {wanted:.4f} ms")
        return real, wanted

    if where.device == "host" and where.tolerance is not None:
        for _ in range(CHECKS):  # over the target: walk on, to a target scaled by the miss
            real, wanted = check(len(path) - 1)
            if real <= wanted * (1 + where.tolerance):
                break
            goal = path[-1].ms * wanted / real
            path += shrink(path[-1].sizes, smaller, build, predict, score, goal, progress)[1:]
        if real < wanted * (1 - where.tolerance):  # under it: back to the first step within
            low, high = 0, len(path) - 1  # the model (over) and a step that is not
            while high - low > 1:
                mid = (low + high) // 2
                real, wanted = check(mid)
                low, high = (mid, high) if real > wanted * (1 + where.tolerance) else (low, mid)
            path = path[:high + 1]
    figures = {"device": predictor.device, "target_ms": target, "last_target_ms": goal,
               "ms_before": path[0].ms, "ms_after": path[-1].ms,
               "measured": [checks[i] for i in sorted(checks)], "result": checks.get(len(path) - 1),
               "steps": [{"changed": p.changed, "size": p.sizes[p.changed], "ms": p.ms, "top1": p.top1}
                         for p in path[1:]]}
    return path[-1].sizes, figures


def shrunk(net, model, walk: dict | None) -> dict:
    """What a shrinking stage reports: params and MACs of the model before and after, and its walk
    (none without a latency target)."""
    before, after = profile_model(net), profile_model(model)
    return {"params_before": before["trainable_params"], "params_after": after["trainable_params"],
            "macs_before": before["macs"], "macs_after": after["macs"], **({"latency": walk} if walk else {})}


def shrunk_summary(figures: dict, macs_note: str = "") -> list[tuple[str, str]]:
    """The train command's summary rows for what ``shrunk`` reported."""
    f = figures
    ratio = f["macs_after"] / f["macs_before"]
    return [("MACs", f"{f['macs_before']:,} -> {f['macs_after']:,} ({ratio:.1%}){macs_note}"),
            ("params", f"{f['params_before']:,} -> {f['params_after']:,}"), *summary(f.get("latency"))]


def summary(walk: dict | None) -> list[tuple[str, str]]:
    """The train command's summary row for a walk (none without one)."""
    if not walk:
        return []
    rows = [("latency", f"{walk['ms_before']:.4f} -> {walk['ms_after']:.4f} ms predicted on "
                        f"{walk['device']} (target {walk['target_ms']:.4f}), {len(walk['steps'])} steps")]
    if walk["result"]:
        last = walk["result"]
        rows.append(("measured", f"{last['measured_ms']:.4f} ms, {last['measured_ms'] / last['base_measured_ms']:.3f}x "
                                 f"the model's {last['base_measured_ms']:.4f} ms (wanted {last['wanted_ms']:.4f})"))
    return rows
