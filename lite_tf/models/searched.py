"""The architecture search's candidates as a model family: ``searched`` builds any ``Architecture``
of the search space (lite_tf/search/space.py) through the zoo's one builder, so a candidate trains,
quantizes, exports and benchmarks as any zoo model (``train.model = 'searched'``,
``train.model_overrides = {'arch': {...}}``; the dict is saved with the run). Its stages pick a
block (MobileNetV2/V3's inverted residual, MobileNeXt's sandglass with its identity multiplier,
MobileNetV4's universal inverted bottleneck), kernel, expansion (the sandglass's reduction), depth,
channels, squeeze-and-excite and activation. Not one of the zoo's families: ``list_models()``
leaves it out.
"""

from __future__ import annotations

import dataclasses
import json

from lite_tf.blocks import (conv_bn_act, inverted_residual, make_divisible, sandglass,
                            sandglass_hidden, universal_inverted_bottleneck)
from lite_tf.errors import InputError
from lite_tf.models.registry import register

BLOCKS = ("inverted_residual", "sandglass", "uib")
ACTIVATIONS = ("relu", "hard_swish")
SE_REDUCTION = 4


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage: ``depth`` blocks of one kind; the first carries ``stride`` and the new width."""

    block: str
    kernel: int
    expansion: int
    depth: int
    channels: int
    stride: int
    se: bool
    activation: str


@dataclasses.dataclass(frozen=True)
class Architecture:
    """A candidate: what ``build`` turns into a model and a run saves as a dict."""

    resolution: int
    stem: int
    stages: tuple[Stage, ...]
    head: int
    identity_multiplier: float = 1.0  # the sandglass blocks' shortcut fraction (MobileNeXt)

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "stages": [dataclasses.asdict(s) for s in self.stages]}

    @classmethod
    def from_dict(cls, d: dict) -> "Architecture":
        """The architecture of a dict (from ``to_dict``, a saved run or a config), checked: one
        line naming what is wrong otherwise."""
        try:
            arch = cls(**{**d, "stages": tuple(Stage(**s) for s in d["stages"])})
        except (TypeError, KeyError) as e:
            raise InputError(f"not an architecture of the search space: {e}") from None
        arch.check()
        return arch

    def check(self) -> None:
        def need(ok, what):
            if not ok:
                raise InputError(f"architecture: {what}")

        need(isinstance(self.resolution, int) and self.resolution >= 8,
             f"resolution must be an integer >= 8, got {self.resolution!r}")
        need(self.stem >= 1 and self.head >= 1, "stem and head need at least one channel")
        need(0 < self.identity_multiplier <= 1,
             f"identity_multiplier must be in (0, 1], got {self.identity_multiplier}")
        need(len(self.stages) >= 1, "no stages")
        for i, s in enumerate(self.stages, 1):
            need(s.block in BLOCKS, f"stage {i}: block must be one of {BLOCKS}, got {s.block!r}")
            need(s.activation in ACTIVATIONS,
                 f"stage {i}: activation must be one of {ACTIVATIONS}, got {s.activation!r}")
            need(s.kernel in (1, 3, 5, 7, 9), f"stage {i}: kernel must be odd, 1-9, got {s.kernel}")
            need(s.expansion >= 1 and s.depth >= 1 and s.channels >= 1,
                 f"stage {i}: expansion, depth and channels must be >= 1")
            need(s.stride in (1, 2), f"stage {i}: stride must be 1 or 2, got {s.stride}")
            need(isinstance(s.se, bool), f"stage {i}: se must be true or false, got {s.se!r}")

    def key(self) -> str:
        """A canonical string of the architecture (equal architectures, equal keys)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))


def block(x, stage: Stage, filters: int, strides: int, identity_multiplier: float, cfg, name):
    """One block of ``stage``: the zoo's blocks with the stage's kernel, expansion, SE (hard-sigmoid
    gate with hard-swish, as MobileNetV3) and activation."""
    se = SE_REDUCTION if stage.se else None
    gate = "hard_sigmoid" if stage.activation == "hard_swish" else "sigmoid"
    if stage.block == "inverted_residual":
        return inverted_residual(x, filters, strides, stage.expansion, kernel_size=stage.kernel,
                                 activation_fn=stage.activation, se_reduction=se, se_gate=gate,
                                 cfg=cfg, name=name)
    if stage.block == "uib":  # ExtraDW: a 3x3 depthwise before the expansion, the stage's after
        return universal_inverted_bottleneck(x, filters, strides, stage.expansion, start_kernel=3,
                                             mid_kernel=stage.kernel, activation_fn=stage.activation,
                                             se_reduction=se, se_gate=gate, cfg=cfg, name=name)
    in_channels = x.shape[-1]
    # MobileNeXt's forms: where the channels change, the two 1x1s (and the strided depthwise).
    form = "full" if in_channels == filters else ("pw_pw_dw" if strides == 2 else "pw_pw")
    return sandglass(x, filters, strides, stage.expansion, form=form,
                     identity_multiplier=identity_multiplier, se_reduction=se, se_gate=gate,
                     hidden=sandglass_hidden(in_channels, filters, stage.expansion),
                     kernel_size=stage.kernel, activation_fn=stage.activation, cfg=cfg, name=name)


def features(x, *, width, cfg, arch):
    """The searched network: stem (3x3, stride 2), the stages' blocks ``s<stage>b<block>``, and a
    1x1 head conv; ``width`` scales every layer as for the zoo's families."""
    a = arch if isinstance(arch, Architecture) else Architecture.from_dict(arch)
    x = conv_bn_act(x, make_divisible(a.stem * width), 3, 2, activation_fn=a.stages[0].activation,
                    cfg=cfg, name="stem")
    for s, stage in enumerate(a.stages, 1):
        filters = make_divisible(stage.channels * width)
        for b in range(1, stage.depth + 1):
            x = block(x, stage, filters, stage.stride if b == 1 else 1, a.identity_multiplier, cfg,
                      name=f"s{s}b{b}")
    return conv_bn_act(x, make_divisible(a.head * width), 1, activation_fn=a.stages[-1].activation,
                       cfg=cfg, name="head_conv")


# The default architecture: MobileNetV3-Large's skeleton of MobileNetV2's blocks, two per stage.
BASELINE = Architecture(224, 16, tuple(
    Stage("inverted_residual", 3, 6, 2, channels, stride, False, "relu")
    for channels, stride in ((16, 1), (24, 2), (40, 2), (80, 2), (112, 1), (160, 2))), 960)
register("searched", "searched", features, arch=BASELINE.to_dict(), family_options=("arch",),
         zoo=False, dropout=0.2)
