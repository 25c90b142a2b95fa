"""The architecture search's space, as data (search space -> strategy -> performance estimation).

A ``Space`` says which values each dimension may take over a fixed skeleton of base channels and
strides: per stage the block, kernel size, expansion (the sandglass's reduction), depth, width,
squeeze-and-excite and activation; the input resolution and the sandglass's identity multiplier.
One value per dimension is an ``Architecture`` (lite_tf/models/searched.py), which ``build`` turns
into a model through the zoo's one builder.
"""

from __future__ import annotations

import dataclasses
import math
import random

from lite_tf.blocks import make_divisible
from lite_tf.errors import InputError
from lite_tf.models import create_model
from lite_tf.models.searched import ACTIVATIONS, BLOCKS, Architecture, Stage


@dataclasses.dataclass(frozen=True)
class Space:
    """The choices per dimension over a skeleton of (base channels, stride) per stage; a stage's
    channels are its base times the width chosen, rounded to 8. The default skeleton is
    MobileNetV3-Large's (16, 24, 40, 80, 112, 160), total stride 32 with the stem's 2."""

    skeleton: tuple[tuple[int, int], ...] = ((16, 1), (24, 2), (40, 2), (80, 2), (112, 1), (160, 2))
    blocks: tuple[str, ...] = BLOCKS
    kernels: tuple[int, ...] = (3, 5, 7)
    expansions: tuple[int, ...] = (3, 4, 6)
    depths: tuple[int, ...] = (1, 2, 3, 4)
    widths: tuple[float, ...] = (0.75, 1.0, 1.25)
    se: tuple[bool, ...] = (False, True)
    activations: tuple[str, ...] = ACTIVATIONS
    resolutions: tuple[int, ...] = (224,)
    identity_multipliers: tuple[float, ...] = (1.0,)
    stem: int = 16
    head: int = 960

    def dimensions(self) -> dict[str, tuple]:
        """Each stage's dimensions and the global ones, with their choices (in suggestion order)."""
        per_stage = {"block": self.blocks, "kernel": self.kernels, "expansion": self.expansions,
                     "depth": self.depths, "width": self.widths, "se": self.se,
                     "activation": self.activations}
        dims = {"resolution": self.resolutions, "identity_multiplier": self.identity_multipliers}
        for i in range(1, len(self.skeleton) + 1):
            dims.update({f"s{i}_{k}": v for k, v in per_stage.items()})
        return dims

    def check(self) -> None:
        """One line for a space with nothing to choose from, or a choice no architecture takes."""
        if not self.skeleton:
            raise InputError("the search space is empty: search.Space.skeleton has no stages")
        dims = self.dimensions()
        for name, choices in dims.items():
            if not choices:
                raise InputError(f"the search space is empty: no choices for {name}")
        first = {n: c[0] for n, c in dims.items()}
        for name, choices in dims.items():
            for value in choices:  # each choice, with the first of every other dimension
                self.choose({**first, name: value}).check()

    def size(self) -> int:
        """How many architectures the space holds."""
        return math.prod(len(c) for c in self.dimensions().values())

    def choose(self, values: dict) -> Architecture:
        """The architecture of one value per dimension (named as in ``dimensions``)."""
        stages = []
        for i, (base, stride) in enumerate(self.skeleton, 1):
            v = {k: values[f"s{i}_{k}"] for k in ("block", "kernel", "expansion", "depth", "se",
                                                   "activation")}
            stages.append(Stage(channels=make_divisible(base * values[f"s{i}_width"]),
                                stride=stride, **v))
        return Architecture(values["resolution"], self.stem, tuple(stages), self.head,
                            values["identity_multiplier"])

    def draw(self, rng: random.Random) -> dict:
        """One uniformly random value per dimension."""
        return {n: rng.choice(c) for n, c in self.dimensions().items()}

    def sample(self, rng: random.Random) -> Architecture:
        """A uniformly random architecture."""
        return self.choose(self.draw(rng))

    def suggest(self, trial) -> Architecture:
        """The architecture an Optuna trial suggests (define-by-run, one categorical per dimension)."""
        return self.choose({n: trial.suggest_categorical(n, list(c))
                            for n, c in self.dimensions().items()})


def build(arch: Architecture, **overrides):
    """The model of ``arch`` at its resolution (``create_model`` overrides apply)."""
    r = arch.resolution
    return create_model("searched", input_shape=overrides.pop("input_shape", (r, r, 3)),
                        arch=arch.to_dict(), **overrides)
