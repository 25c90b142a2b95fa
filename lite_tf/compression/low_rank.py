"""Low-rank factorization: convolution and Dense kernels replaced by truncated decompositions.

1x1 convolutions and Dense layers by truncated SVD, k x k convolutions by Tucker-2 (HOSVD refined
by a few HOOI sweeps; Kim et al. 2016) or by spatial separation into k x 1 and 1 x k (Jaderberg et
al. 2014); depthwise and grouped convolutions stay. The rank of each layer keeps ``energy`` of its
squared singular values (per mode for Tucker-2), rounded up to ``divisor``; with ``target_macs``
one energy level for all layers is searched so the model lands at that fraction of its MACs. A
layer is factorized only where the product costs fewer MACs than the layer and no rank is full. The result is a zoo
model with a ``low_rank`` override (``lite_tf.models.factors``): it trains, quantizes and exports
like any other.
"""

from __future__ import annotations

import dataclasses

import gin
import numpy as np

from lite_tf.checks import at_least, field, one_of, validate, within
from lite_tf.compression import latency_target, stage
from lite_tf.errors import InputError
from lite_tf.models import factors as arch
from lite_tf.models.profile import layer_macs, profile_model

KXK = ("tucker2", "spatial", "none")


@gin.configurable(module="low_rank")
@dataclasses.dataclass(frozen=True)
class LowRank(latency_target.Targets):
    """Factorize every layer that pays (see the module): by retained ``energy``, to
    ``target_macs`` of the model's MACs, or greedily, NetAdapt-style, to an int8 latency target
    (``target_ms`` or ``target_latency``; see ``latency_target``); explicit ``ranks`` ({layer:
    rank}) win over any target."""

    energy: float = field(0.9, within(0, 1, low_open=True),
                          help="fraction of each kernel's squared singular values kept")
    target_macs: float | None = field(None, within(0, 1, low_open=True, high_open=True),
                                      help="the model's MACs after, as a fraction of before")
    kxk: str = field("tucker2", one_of(*KXK), help="how k x k convolutions factorize")
    ranks: dict | None = field(None, help="{layer: rank} (tucker2: [r_in, r_out]); others stay")
    divisor: int = field(8, at_least(1), help="ranks are multiples of it")

    def check(self) -> None:
        validate(self, "low_rank.LowRank")
        self.one_target("low_rank.LowRank")

    @property
    def by_latency(self) -> bool:  # explicit ranks win over any target
        return self.ranks is None and super().by_latency


def _matrix(kernel: np.ndarray, method: str) -> np.ndarray:
    """The matrix whose truncated SVD is the factorization (svd, spatial) or the input-mode
    unfolding (tucker2)."""
    if kernel.ndim == 2:  # Dense
        return kernel
    kh, kw, c_in, c_out = kernel.shape
    if method == "spatial":  # rows (h, c_in), columns (w, c_out)
        return kernel.transpose(0, 2, 1, 3).reshape(kh * c_in, kw * c_out)
    if method == "tucker2":
        return kernel.transpose(2, 0, 1, 3).reshape(c_in, -1)
    return kernel.reshape(c_in, c_out)


def _singular_values(matrix: np.ndarray) -> np.ndarray:
    """The singular values of ``matrix``, descending: the square roots of the eigenvalues of its
    shorter side's Gram matrix (in float64; a fraction of an SVD's time on a kernel's unfolding)."""
    matrix = matrix.astype(np.float64)
    gram = matrix @ matrix.T if matrix.shape[0] <= matrix.shape[1] else matrix.T @ matrix
    return np.sqrt(np.maximum(np.linalg.eigvalsh(gram)[::-1], 0.0))


def spectra(kernel: np.ndarray, method: str) -> list[np.ndarray]:
    """Singular values that set the rank(s): one spectrum (svd, spatial) or the input and output
    modes' (tucker2)."""
    found = [_singular_values(_matrix(kernel, method))]
    if method == "tucker2":
        found.append(_singular_values(kernel.transpose(3, 0, 1, 2).reshape(kernel.shape[3], -1)))
    return found


def rank_for(values: np.ndarray, energy: float, divisor: int) -> int:
    """The fewest leading singular values keeping ``energy`` of their squares, rounded up to a
    multiple of ``divisor`` (at most all of them)."""
    kept = np.cumsum(values ** 2) / max(float((values ** 2).sum()), 1e-30)
    r = int(np.searchsorted(kept, energy - 1e-9) + 1)
    return min(len(values), -(-r // divisor) * divisor)


def _top(matrix: np.ndarray, r: int) -> np.ndarray:
    """An orthonormal basis of the ``r`` leading left singular vectors: the eigenvectors of the
    rows' Gram matrix (a fraction of an SVD's time on the wide unfoldings of a kernel); at full
    rank any basis spans the space, so the identity."""
    rows = matrix.shape[0]
    if r >= rows:
        return np.eye(rows)
    matrix = matrix.astype(np.float64)
    _, vectors = np.linalg.eigh(matrix @ matrix.T)  # ascending eigenvalues
    return vectors[:, ::-1][:, :r]


def decompose(kernel: np.ndarray, method: str, rank: tuple[int, ...], sweeps: int = 5) -> list[np.ndarray]:
    """The factors' kernels, in layer order, whose product approximates ``kernel``."""
    if method == "tucker2":
        kh, kw, c_in, c_out = kernel.shape
        r_in, r_out = rank
        u_in = _top(_matrix(kernel, "tucker2"), r_in)
        u_out = _top(kernel.transpose(3, 0, 1, 2).reshape(c_out, -1), r_out)
        for _ in range(sweeps):  # HOOI: each mode's basis against the other's projection
            u_in = _top(np.einsum("hwio,ob->ihwb", kernel, u_out).reshape(c_in, -1), r_in)
            u_out = _top(np.einsum("hwio,ia->ohwa", kernel, u_in).reshape(c_out, -1), r_out)
        core = np.einsum("hwio,ia,ob->hwab", kernel, u_in, u_out)
        return [u_in.reshape(1, 1, c_in, r_in), core, u_out.T.reshape(1, 1, r_out, c_out)]
    matrix, r = _matrix(kernel, method).astype(np.float64), rank[0]
    wide = matrix.shape[0] <= matrix.shape[1]
    short = matrix if wide else matrix.T  # the truncated SVD through the shorter side's basis
    basis = _top(short, r)
    projected = basis.T @ short  # sigma_i v_i^T on its rows
    root = np.sqrt(np.maximum(np.linalg.norm(projected, axis=1), 1e-30))
    a, b = basis * root, projected / root[:, None]  # each factor carries sqrt(sigma)
    left, right = (a, b) if wide else (b.T, a.T)
    if kernel.ndim == 2:
        return [left, right]
    kh, kw, c_in, c_out = kernel.shape
    if method == "spatial":
        return [left.reshape(kh, c_in, r)[:, None], right.reshape(r, kw, c_out).transpose(1, 0, 2)[None]]
    return [left.reshape(1, 1, c_in, r), right.reshape(1, 1, r, c_out)]


def candidates(model, kxk: str) -> dict[str, str]:
    """{layer name: method} for every layer that can be factorized."""
    found = {}
    for layer in model.layers:
        kind = arch.method_for(layer)
        if kind is not None and len(layer.inbound_nodes) == 1 and (kind == "svd" or kxk != "none"):
            found[layer.name] = "svd" if kind == "svd" else kxk
    return found


def _at_energy(layers, methods, spectra_of, energy, divisor) -> dict[str, dict]:
    """Each candidate at the ranks keeping ``energy``, where that costs fewer MACs and no rank is
    full (a full-rank factor is a layer of pure overhead: the stem's 3 input channels)."""
    chosen = {}
    for name, method in methods.items():
        layer = layers[name]
        rank = tuple(rank_for(s, energy, divisor) for s in spectra_of[name])
        full = any(r >= most for r, most in zip(rank, arch.max_rank(layer, method)))
        if not full and arch.macs(layer, method, rank) < layer_macs(layer):
            chosen[name] = {"method": method, "rank": list(rank) if method == "tucker2" else rank[0]}
    return chosen


def saved_macs(layers, chosen: dict[str, dict]) -> int:
    """The MACs ``chosen`` saves; ``layers``: {name: layer} (a model's get_layer walks all of them)."""
    return sum(layer_macs(layers[n]) - arch.macs(layers[n], s["method"], arch.ranks(s))
               for n, s in chosen.items())


def plan(model, config: LowRank) -> dict[str, dict]:
    """The factors (``create_model``'s ``low_rank`` override) that ``config`` asks of ``model``."""
    config.check()
    if config.ranks is not None:
        methods = candidates(model, config.kxk if config.kxk != "none" else "tucker2")
        chosen = {}
        for name, rank in config.ranks.items():
            if name not in methods:
                arch.check(model, {name: {"method": "svd", "rank": rank}})  # names what is wrong
            chosen[name] = {"method": methods[name], "rank": list(rank) if isinstance(rank, (list, tuple)) else rank}
        arch.check(model, chosen)
        return chosen
    methods, layers = candidates(model, config.kxk), {layer.name: layer for layer in model.layers}
    spectra_of = {n: spectra(np.asarray(layers[n].kernel), m) for n, m in methods.items()}
    if config.target_macs is None:
        chosen = _at_energy(layers, methods, spectra_of, config.energy, config.divisor)
        if not chosen:
            raise InputError(f"no layer of {model.name} gets cheaper at energy {config.energy}: "
                             f"lower low_rank.LowRank.energy")
        return chosen
    full = profile_model(model)["macs"]
    need = full * (1 - config.target_macs)
    if saved_macs(layers, _at_energy(layers, methods, spectra_of, 0.0, config.divisor)) < need:
        raise InputError(f"low-rank factorization cannot bring {model.name} to "
                         f"{config.target_macs:.0%} of its MACs: its layers that factorize carry too few")
    low, high = 0.0, 1.0  # the highest energy that still saves enough
    for _ in range(20):
        mid = (low + high) / 2
        low, high = (mid, high) if saved_macs(layers, _at_energy(
            layers, methods, spectra_of, mid, config.divisor)) >= need else (low, mid)
    return _at_energy(layers, methods, spectra_of, low, config.divisor)


def factorize(model, factors: dict[str, dict], cache: dict | None = None):
    """``model`` with the layers of ``factors`` replaced by their truncated decompositions; every
    other weight is kept. ``cache``: decompositions by (layer, method, rank), kept across calls."""
    thin = arch.with_factors(model, factors)
    weights, cache = {}, {} if cache is None else cache
    found = {layer.name: layer for layer in model.layers}  # get_layer walks every layer each time
    for name, spec in factors.items():
        layer = found[name]
        key = (name, spec["method"], arch.ranks(spec))
        if key not in cache:
            cache[key] = decompose(np.asarray(layer.kernel), spec["method"], arch.ranks(spec))
        kernels = cache[key]
        chain = arch.names(name, spec["method"])
        for part, kernel in zip(chain, kernels):
            weights[part] = [kernel.astype(np.float32)]
        if layer.use_bias:
            weights[name].append(np.asarray(layer.bias))
    for layer in thin.layers:
        if layer.name in weights:
            layer.set_weights(weights[layer.name])
        elif layer.weights:
            layer.set_weights(found[layer.name].get_weights())
    return thin


def by_latency(model, config: LowRank, batches, progress=print,
               where: latency_target.LatencyTarget | None = None) -> tuple[dict[str, dict], dict]:
    """The factors meeting ``config``'s latency target, and the walk's figures: each layer's
    rank(s) step down through ``levels`` levels of its full rank (a level is used where it saves
    MACs and no rank is full), the layer losing least per millisecond first."""
    config.check()
    where = where or latency_target.LatencyTarget()  # gin's latency_target.* bindings
    methods, layers = candidates(model, config.kxk), {layer.name: layer for layer in model.layers}
    top = where.levels

    def spec(name, level):
        layer, method = layers[name], methods[name]
        most = arch.max_rank(layer, method)
        rank = tuple(min(m, max(config.divisor, -(-m * level // top // config.divisor) * config.divisor))
                     for m in most)
        if any(r >= m for r, m in zip(rank, most)) or arch.macs(layer, method, rank) >= layer_macs(layer):
            return None
        return {"method": method, "rank": list(rank) if method == "tucker2" else rank[0]}

    def smaller(name, level):
        return next((lower for lower in range(level - 1, 0, -1) if spec(name, lower)), None)

    usable = {n: top for n in methods if smaller(n, top) is not None}
    if not usable:
        raise InputError(f"no layer of {model.name} gets cheaper by low-rank factorization")
    cache: dict = {}

    def factors(levels):
        return {n: spec(n, lv) for n, lv in levels.items() if lv < top}

    levels, walk = latency_target.reach(model, usable, smaller, lambda lv: factorize(model, factors(lv), cache),
                                        config.target_ms, config.target_latency, batches, where, progress)
    return factors(levels), walk


@stage.register
class LowRankStage(stage.Stage):
    """``low_rank``: the factorized model is fine-tuned; its factors join
    ``train.model_overrides`` in the run's record, so later stages and exports rebuild it."""

    name, label = "low_rank", "low-rank"
    settings = LowRank

    def prepare(self, net, options: LowRank, context):
        if (context.model_overrides or {}).get("low_rank"):
            raise InputError("the run is already factorized: start the low_rank stage from one that is not")
        chosen, walk = by_latency(net, options, context.train) if options.by_latency \
            else (plan(net, options), None)
        model = factorize(net, chosen)
        figures = {"layers": len(chosen), **latency_target.shrunk(net, model, walk)}
        return stage.Prepared(model, evaluate_first=True, report=lambda _: {"low_rank": figures},
                              model_overrides={**(context.model_overrides or {}), "low_rank": chosen})

    def summary(self, final):
        f = final["low_rank"]
        return latency_target.shrunk_summary(f, f", {f['layers']} layers factorized")
