"""Sandglass block (MobileNeXt, Zhou et al., arXiv 2007.02269).

Identity mapping and spatial convolution happen at the high dimension; the bottleneck is in the
middle: depthwise 3x3 -> linear 1x1 reduce -> 1x1 expand + ReLU6 -> linear depthwise 3x3. The
official code (zhoudaquan/rethinking_bottleneck_design, mnext.py) uses four forms:

- ``first``: the network's first block; full form, stride on the last depthwise, no shortcut;
- ``pw_pw``: channels change at stride 1 (first block of the 384 and 960 stages): the two 1x1s only;
- ``pw_pw_dw``: channels change at stride 2: the two 1x1s, then the strided depthwise;
- ``full``: depthwise, two 1x1s, depthwise, with the shortcut when ``residual``.
"""

from __future__ import annotations

import math

from lite_tf.backend import layers
from lite_tf.blocks.channels import channel_slice
from lite_tf.blocks.conv import DEFAULT, conv_bn_act, depthwise_bn_act, make_divisible
from lite_tf.blocks.se import squeeze_excite

FORMS = {  # form: (depthwise first, depthwise last)
    "first": (True, True),
    "pw_pw": (False, False),
    "pw_pw_dw": (False, True),
    "full": (True, True),
}


def sandglass_hidden(in_channels: int, out_channels: int, reduction: int) -> int:
    """Bottleneck width of the official code: in // reduction, at least ceil(out / 6) rounded to 16."""
    hidden = in_channels // reduction
    if hidden < out_channels / 6.0:
        hidden = make_divisible(math.ceil(out_channels / 6.0), 16)
    return hidden


def sandglass_form(in_channels: int, out_channels: int, strides: int, reduction: int,
                   stage_has_one_block: bool) -> tuple[str, bool]:
    """(form, residual) the official code picks for a block."""
    if reduction == 2:
        return "first", False
    if in_channels != out_channels and not stage_has_one_block:
        return ("pw_pw" if strides == 1 else "pw_pw_dw"), False
    return "full", not stage_has_one_block


def partial_identity_add(x, y, identity_multiplier: float, *, name):
    """y + x on the first C * identity_multiplier channels only (the identity tensor multiplier);
    the rest of y passes through."""
    channels = y.shape[-1]
    kept = int(channels * identity_multiplier + 1e-6)
    if not 0 < kept <= channels:
        raise ValueError(f"{name}: identity_multiplier must be in (0, 1], got {identity_multiplier}")
    if kept == channels:
        return layers.Add(name=name)([x, y])
    head = layers.Add(name=name)([channel_slice(x, 0, kept, name=f"{name}_x"),
                                  channel_slice(y, 0, kept, name=f"{name}_y")])
    tail = channel_slice(y, kept, channels, name=f"{name}_rest")
    return layers.Concatenate(name=f"{name}_concat")([head, tail])


def sandglass(x, filters, strides=1, reduction=6, *, form="full", residual=True,
              identity_multiplier=1.0, se_reduction=None, se_gate="sigmoid", hidden=None,
              kernel_size=3, activation_fn="relu6", cfg=DEFAULT, name):
    """Sandglass block; layers ``name_dw1``, ``name_reduce``, ``name_expand``, ``name_dw2``,
    ``name_se_*``, ``name_add``. ``kernel_size``, ``activation_fn`` (the paper's: 3, ReLU6) and
    ``se_gate`` are the architecture search's to vary."""
    if form not in FORMS:
        raise ValueError(f"{name}: form must be one of {sorted(FORMS)}, got {form!r}")
    dw_first, dw_last = FORMS[form]
    if strides != 1 and not dw_last:
        raise ValueError(f"{name}: form {form!r} has no depthwise conv to carry stride {strides}")
    in_channels = x.shape[-1]
    hidden = hidden or sandglass_hidden(in_channels, filters, reduction)
    y = x
    if dw_first:
        y = depthwise_bn_act(y, kernel_size, activation_fn=activation_fn, cfg=cfg,
                             name=f"{name}_dw1")
    y = conv_bn_act(y, hidden, 1, activation_fn=None, cfg=cfg, name=f"{name}_reduce")
    y = conv_bn_act(y, filters, 1, activation_fn=activation_fn, cfg=cfg, name=f"{name}_expand")
    if dw_last:
        y = depthwise_bn_act(y, kernel_size, strides, activation_fn=None, cfg=cfg, name=f"{name}_dw2")
    if se_reduction:
        y = squeeze_excite(y, se_reduction, gate=se_gate, name=f"{name}_se")
    if residual and strides == 1 and in_channels == filters:
        y = partial_identity_add(x, y, identity_multiplier, name=f"{name}_add")
    return y
