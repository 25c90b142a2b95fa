"""Channel operations as single built-in layers, so TF-MOT and the int8 converter accept them.

Raw ``tf.split``/``tf.reshape`` would become TFOpLambda layers, which QAT and pruning reject.
Cropping2D and ZeroPadding2D in ``channels_first`` mode act on the last two axes of an NHWC
tensor, i.e. on (W, C): with zero width cropping/padding they slice/pad the channel axis and
convert to STRIDED_SLICE / PAD.
"""

from lite_tf.backend import layers


def channel_slice(x, start, stop, *, name):
    """Channels [start, stop) of an NHWC tensor."""
    channels = x.shape[-1]
    if not 0 <= start < stop <= channels:
        raise ValueError(f"{name}: bad channel slice [{start}, {stop}) of {channels}")
    return layers.Cropping2D(((0, 0), (start, channels - stop)), data_format="channels_first",
                             name=name)(x)


def channel_split(x, *, name):
    """Split channels into two halves (ShuffleNetV2's channel split): layers ``name_1``, ``name_2``."""
    half = x.shape[-1] // 2
    return (channel_slice(x, 0, half, name=f"{name}_1"),
            channel_slice(x, half, x.shape[-1], name=f"{name}_2"))


def channel_pad(x, extra, *, name):
    """Append ``extra`` zero channels (ENet's downsampling shortcut)."""
    return layers.ZeroPadding2D(((0, 0), (0, extra)), data_format="channels_first", name=name)(x)


def channel_shuffle(x, groups, *, name):
    """Channel shuffle (ShuffleNet, arXiv 1707.01083): view channels as (groups, C/groups),
    transpose, flatten; as torchvision's ``channel_shuffle``. Layers ``name_split``,
    ``name_transpose``, ``name``."""
    h, w, c = x.shape[1:]
    if c % groups:
        raise ValueError(f"{name}: {c} channels not divisible by {groups} groups")
    x = layers.Reshape((h, w, groups, c // groups), name=f"{name}_split")(x)
    x = layers.Permute((1, 2, 4, 3), name=f"{name}_transpose")(x)
    return layers.Reshape((h, w, c), name=name)(x)
