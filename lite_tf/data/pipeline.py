"""Input pipelines over a prepared dataset (``lite_tf.data.sources``): preprocessing lives here,
not in the model. For training, an Inception-style random resized crop or a CIFAR-style pad and
random crop, an optional flip, optional random erasing and optional mixup of each training batch;
center crop + resize for evaluation;
then scaled as ``preprocessing`` names (``lite_tf.data.preprocessing``; default [-1, 1]); parallel
map, cache and prefetch with AUTOTUNE.
"""

from __future__ import annotations

import dataclasses
import math

import tensorflow_datasets as tfds

from lite_tf import checks
from lite_tf.backend import tf
from lite_tf.data import preprocessing as scaling
from lite_tf.data.sources import num_classes

AUTOTUNE = tf.data.AUTOTUNE
CACHE_LIMIT_BYTES = 2 << 30  # cache decoded images in memory for datasets below 2 GiB
SHUFFLE_BUFFER = 10_000


CROPS = ("resized", "pad")
ERASE_AREA, ERASE_RATIO = (0.02, 0.4), (0.3, 1 / 0.3)  # Zhong et al. 2017's defaults


@dataclasses.dataclass(frozen=True)
class Augment:
    """Training augmentation.

    ``crop='resized'``: random resized crop over ``scale`` of the area with aspect ratios in
    ``ratio`` (Inception: 8%-100%, 3/4-4/3). ``crop='pad'``: resize to the input size, zero-pad
    ``pad_fraction`` of it on each side and crop at random (CIFAR style: 4 px at 32x32). Then a
    horizontal flip if ``flip``, and with probability ``erasing`` one random rectangle set to the
    mean (random erasing, Zhong et al. 2017, arXiv 1708.04896). ``mixup`` > 0: each batch mixed
    with itself reversed, images and labels by one weight drawn from Beta(mixup, mixup) (Zhang et
    al. 2018, arXiv 1710.09412; 0.2 there for ImageNet); in a distillation the teacher sees the
    student's mixed images (function matching, Beyer et al. 2022, arXiv 2106.05237).
    """

    scale: tuple[float, float] = checks.field((0.08, 1.0), checks.pair(0, 1),
                                              "random resized crop: the range of area fractions")
    ratio: tuple[float, float] = checks.field((3 / 4, 4 / 3), checks.pair(0),
                                              "random resized crop: the range of aspect ratios")
    flip: bool = checks.field(True, help="random horizontal flip")
    crop: str = checks.field("resized", checks.one_of(*CROPS), "resized or pad (CIFAR style)")
    pad_fraction: float = checks.field(0.125, checks.within(0, 1, high_open=True),
                                       "crop='pad': padding on each side, a fraction of the size")
    erasing: float = checks.field(0.0, checks.within(0, 1), "random erasing's probability")
    mixup: float = checks.field(0.0, checks.at_least(0), "mixup's Beta(a, a) parameter (0: off)")

    def __post_init__(self):
        checks.validate(self, "data.Augment")


def _to_float(image, channels: int):
    image = tf.cast(image, tf.float32)
    if image.shape[-1] == 1 and channels == 3:
        image = tf.image.grayscale_to_rgb(image)
    return image


def train_transform(image, image_size: int, augment: Augment, channels: int = 3,
                    preprocessing: str | None = None):
    """Random resized crop to ``image_size`` (+ flip), scaled as ``preprocessing``."""
    image = _to_float(image, channels)
    if augment.crop == "pad":
        pad = round(augment.pad_fraction * image_size)
        image = tf.image.resize(image, (image_size, image_size))
        image = tf.image.random_crop(tf.pad(image, [[pad, pad], [pad, pad], [0, 0]]),
                                     (image_size, image_size, channels))
    else:
        begin, size, _ = tf.image.sample_distorted_bounding_box(
            tf.shape(image), tf.zeros([0, 0, 4], tf.float32), min_object_covered=0.0,
            aspect_ratio_range=augment.ratio, area_range=augment.scale, max_attempts=10,
            use_image_if_no_bounding_boxes=True)
        image = tf.image.resize(tf.slice(image, begin, size), (image_size, image_size))
    if augment.flip:
        image = tf.image.random_flip_left_right(image)
    image = scaling.apply(image, preprocessing)
    return random_erase(image, augment.erasing) if augment.erasing else image


def random_erase(image, probability: float):
    """With ``probability``, zero (the mean, after scaling) one rectangle of 2%-40% of the area
    with aspect ratio 0.3-3.3, placed at random (Zhong et al. 2017)."""
    height, width = image.shape[0], image.shape[1]
    area = tf.random.uniform([], *ERASE_AREA) * height * width
    ratio = tf.exp(tf.random.uniform([], *(math.log(r) for r in ERASE_RATIO)))
    h = tf.clip_by_value(tf.cast(tf.round(tf.sqrt(area * ratio)), tf.int32), 1, height)
    w = tf.clip_by_value(tf.cast(tf.round(tf.sqrt(area / ratio)), tf.int32), 1, width)
    top = tf.random.uniform([], 0, height - h + 1, tf.int32)
    left = tf.random.uniform([], 0, width - w + 1, tf.int32)
    rows, cols = tf.range(height)[:, None], tf.range(width)[None, :]
    inside = (rows >= top) & (rows < top + h) & (cols >= left) & (cols < left + w)
    erase = inside & (tf.random.uniform([]) < probability)
    return tf.where(erase[..., None], tf.zeros_like(image), image)


def mix(images, labels, alpha: float):
    """A batch mixed with itself reversed: ``w * x + (1 - w) * x[::-1]`` for images and labels
    alike, one ``w`` ~ Beta(alpha, alpha) per batch (drawn as a ratio of two Gamma samples)."""
    a, b = tf.random.gamma([], alpha), tf.random.gamma([], alpha)
    w = a / (a + b)
    return (w * images + (1 - w) * tf.reverse(images, [0]),
            w * labels + (1 - w) * tf.reverse(labels, [0]))


def eval_transform(image, image_size: int, crop_fraction: float = 0.875, channels: int = 3,
                   preprocessing: str | None = None):
    """Central crop of ``crop_fraction`` of each side, resized to ``image_size``, scaled as
    ``preprocessing``."""
    image = _to_float(image, channels)
    if crop_fraction < 1.0:
        image = tf.image.central_crop(image, crop_fraction)
    return scaling.apply(tf.image.resize(image, (image_size, image_size)), preprocessing)


def make_dataset(builder, split: str, *, training: bool, batch_size: int, image_size: int,
                 augment: Augment = Augment(), crop_fraction: float = 0.875, seed: int | None = None,
                 num_workers: int = 1, preprocessing: str | None = None):
    """Batched (image, one-hot label) pairs; training data is shuffled and repeats forever.

    With ``num_workers`` > 1 (multi-worker training), a split stored in fewer files than workers
    is sharded by example instead of by file."""
    classes = num_classes(builder)
    ds = builder.as_dataset(split=split, as_supervised=True, shuffle_files=training,
                            read_config=tfds.ReadConfig(shuffle_seed=seed))
    if num_workers > 1 and len(builder.info.splits[split].file_instructions) < num_workers:
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        ds = ds.with_options(options)
    if (builder.info.dataset_size or CACHE_LIMIT_BYTES) < CACHE_LIMIT_BYTES:
        ds = ds.cache()
    if training:
        ds = ds.shuffle(SHUFFLE_BUFFER, seed=seed).repeat()
        transform = lambda x: train_transform(x, image_size, augment,  # noqa: E731
                                              preprocessing=preprocessing)
    else:
        transform = lambda x: eval_transform(x, image_size, crop_fraction,  # noqa: E731
                                             preprocessing=preprocessing)
    ds = ds.map(lambda x, y: (transform(x), tf.one_hot(y, classes)), num_parallel_calls=AUTOTUNE)
    ds = ds.batch(batch_size, drop_remainder=training)
    if training and augment.mixup:
        ds = ds.map(lambda x, y: mix(x, y, augment.mixup), num_parallel_calls=AUTOTUNE)
    return ds.prefetch(AUTOTUNE)
