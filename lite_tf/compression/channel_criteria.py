"""Channel criteria: one score per channel of a prunable group (higher is kept), and the
least-squares reconstruction of the layers that read the kept channels.

- ``l1``: the L1 norm of each filter (Li et al., "Pruning Filters for Efficient ConvNets", arXiv
  1608.08710).
- ``bn``: |gamma| of the BatchNorm after the producer (network slimming, Liu et al., arXiv
  1708.06519); L1 where there is none.
- ``apoz``: 1 - the Average Percentage of Zeros of the channel after its activation, on training
  batches (Hu et al., "Network Trimming", arXiv 1607.03250); L1 where no activation follows.
- ``lasso``: He et al., "Channel Pruning for Accelerating Very Deep Neural Networks" (arXiv
  1707.06168): the consumers' output Y = sum_c Z_c (Z_c: channel c's contribution) is regressed on
  the Z_c with an L1 penalty on their coefficients; a channel scores the penalty below which it
  stays in the LASSO path, so keeping the top k keeps the path's active set of size k.
  ``reconstruct`` then fits each consumer's kernel on the kept channels by least squares, so the
  output changes as little as it can before any fine-tuning.

Both data criteria read the same statistics: one pass of the training pipeline through the model
(``Statistics.measure``). LASSO needs only the Gram matrix M = P^T P of each consumer's input
patches P (Y = P W, so the regression and the least squares are functions of M and W); the
statistics come from the unpruned model, not layer by layer from the pruned one (He et al.'s
variant without accumulated-error correction).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import tensorflow as tf
from sklearn.linear_model import lars_path_gram

from lite_tf.backend import keras, layers
from lite_tf.blocks.activations import HardSwish

WEIGHTS_ONLY = ("l1", "bn")
FROM_DATA = ("apoz", "lasso")
CRITERIA = WEIGHTS_ONLY + FROM_DATA
ACTIVATIONS = (layers.ReLU, layers.Activation, layers.PReLU, HardSwish)
ROWS_PER_BATCH = 4096  # patch rows sampled from each batch, per consumer


def _activation(model, group):
    """The first activation after the producer, or None."""
    return next((model.get_layer(m) for m in group.members
                 if isinstance(model.get_layer(m), ACTIVATIONS)), None)


@dataclasses.dataclass
class Statistics:
    """Per-channel fraction of non-positive activations (by producer) and each consumer's patch
    Gram matrix (by consumer), from ``images`` training images."""

    apoz: dict[str, np.ndarray]
    gram: dict[str, np.ndarray]
    images: int

    @classmethod
    def measure(cls, model, groups, batches, samples: int, seed: int = 0) -> "Statistics":
        watched = {g.producer: _activation(model, g) for g in groups}
        watched = {p: a for p, a in watched.items() if a is not None}
        consumers = sorted({c for g in groups for c in g.consumers})
        outputs = [a.output for a in watched.values()] + [model.get_layer(c).input for c in consumers]
        probe = keras.Model(model.inputs, outputs)
        zeros = {p: 0.0 for p in watched}
        gram = {c: 0.0 for c in consumers}
        rng, seen = np.random.default_rng(seed), 0
        for images, _ in batches:
            if seen >= samples:
                break
            images = images[: samples - seen]
            seen += int(images.shape[0])
            found = probe(images, training=False)
            found = found if isinstance(found, list) else [found]
            for p, value in zip(watched, found):
                v = value.numpy()
                zeros[p] = zeros[p] + (v <= 0).reshape(-1, v.shape[-1]).sum(0)
            for c, value in zip(consumers, found[len(watched):]):
                p = _patches(model.get_layer(c), value)
                if len(p) > ROWS_PER_BATCH:
                    p = p[rng.choice(len(p), ROWS_PER_BATCH, replace=False)]
                gram[c] = gram[c] + p.T @ p
        if seen == 0:
            raise ValueError("no training images to measure channel statistics on")
        apoz = {p: np.asarray(zeros[p], np.float64) / (seen * math.prod(a.output.shape[1:-1]))
                for p, a in watched.items()}
        return cls(apoz, gram, seen)


def _patches(conv, x) -> np.ndarray:
    """``conv``'s input patches as rows (kh * kw * channels, in its kernel's order), float64."""
    kh, kw = conv.kernel_size
    sh, sw = conv.strides
    dh, dw = conv.dilation_rate
    p = tf.image.extract_patches(x, sizes=[1, kh, kw, 1], strides=[1, sh, sw, 1],
                                 rates=[1, dh, dw, 1], padding=conv.padding.upper())
    return p.numpy().reshape(-1, p.shape[-1]).astype(np.float64)


def _l1(model, group) -> np.ndarray:
    kernel = np.asarray(model.get_layer(group.producer).kernel)
    return np.abs(kernel).reshape(-1, kernel.shape[-1]).sum(0)


def _channel_gram(kernel: np.ndarray, m: np.ndarray) -> np.ndarray:
    """G[c, d] = <Z_c, Z_d> for a consumer's ``kernel`` (kh, kw, C, out) and patch Gram ``m``."""
    kh, kw, c, out = kernel.shape
    w = kernel.reshape(-1, out).astype(np.float64)
    return (m * (w @ w.T)).reshape(kh * kw, c, kh * kw, c).sum(axis=(0, 2))


def lasso_scores(gram: np.ndarray) -> np.ndarray:
    """Per channel: the LASSO penalty below which its coefficient stays non-zero (0: never), for
    the regression of Y = sum_c Z_c on the Z_c whose Gram matrix is ``gram``."""
    scale = np.trace(gram) or 1.0
    alphas, _, coefs = lars_path_gram(gram.sum(1) / scale, gram / scale, n_samples=1, method="lasso")
    found = np.zeros(len(gram))
    for c in range(len(gram)):
        off = np.flatnonzero(coefs[c] == 0)
        enter = off[-1] + 1 if len(off) else 0
        found[c] = alphas[enter] if enter < len(alphas) else 0.0
    return found


def scores(model, group, criterion: str, stats: Statistics | None = None) -> np.ndarray:
    """One score per channel of ``group`` by ``criterion`` (``stats`` for apoz and lasso)."""
    if criterion == "bn":
        bn = next((model.get_layer(m) for m in group.members
                   if isinstance(model.get_layer(m), layers.BatchNormalization)), None)
        if bn is not None and bn.scale:
            return np.abs(np.asarray(bn.gamma))
    if criterion == "apoz" and group.producer in stats.apoz:
        return 1.0 - stats.apoz[group.producer]
    if criterion == "lasso":
        return lasso_scores(sum(_channel_gram(np.asarray(model.get_layer(c).kernel), stats.gram[c])
                                for c in group.consumers))
    return _l1(model, group)


def reconstruct(model, groups, kept: dict[str, list[int]], stats: Statistics) -> dict[str, np.ndarray]:
    """Each consumer's kernel on its kept input channels, fit by least squares to the output of
    its full kernel (He et al.): {consumer: kernel (kh, kw, kept, out)}."""
    found = {}
    for group in groups:
        idx = np.asarray(kept[group.producer])
        for name in group.consumers:
            kernel = np.asarray(model.get_layer(name).kernel)
            kh, kw, c, out = kernel.shape
            cols = (np.arange(kh * kw)[:, None] * c + idx[None, :]).reshape(-1)
            m = stats.gram[name]
            a = m[np.ix_(cols, cols)]
            b = m[cols] @ kernel.reshape(-1, out).astype(np.float64)
            ridge = 1e-6 * (np.trace(a) / len(a) or 1.0)
            w = np.linalg.solve(a + ridge * np.eye(len(a)), b)
            found[name] = w.reshape(kh, kw, len(idx), out).astype(np.float32)
    return found
