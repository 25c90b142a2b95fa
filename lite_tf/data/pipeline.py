"""Input pipelines over a prepared dataset (``lite_tf.data.sources``): preprocessing lives here,
not in the model. Inception-style random resized crop (+ optional flip) for training, center crop +
resize for evaluation, then scaled as ``preprocessing`` names (``lite_tf.data.preprocessing``;
default [-1, 1]); parallel map, cache and prefetch with AUTOTUNE.
"""

from __future__ import annotations

import dataclasses

import tensorflow_datasets as tfds

from lite_tf.backend import tf
from lite_tf.data import preprocessing as scaling
from lite_tf.data.sources import num_classes

AUTOTUNE = tf.data.AUTOTUNE
CACHE_LIMIT_BYTES = 2 << 30  # cache decoded images in memory for datasets below 2 GiB
SHUFFLE_BUFFER = 10_000


@dataclasses.dataclass(frozen=True)
class Augment:
    """Training augmentation: random resized crop over ``scale`` of the area with aspect ratios in
    ``ratio`` (Inception: 8%-100%, 3/4-4/3), then an optional horizontal flip."""

    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip: bool = True


def _to_float(image, channels: int):
    image = tf.cast(image, tf.float32)
    if image.shape[-1] == 1 and channels == 3:
        image = tf.image.grayscale_to_rgb(image)
    return image


def train_transform(image, image_size: int, augment: Augment, channels: int = 3,
                    preprocessing: str | None = None):
    """Random resized crop to ``image_size`` (+ flip), scaled as ``preprocessing``."""
    image = _to_float(image, channels)
    begin, size, _ = tf.image.sample_distorted_bounding_box(
        tf.shape(image), tf.zeros([0, 0, 4], tf.float32), min_object_covered=0.0,
        aspect_ratio_range=augment.ratio, area_range=augment.scale, max_attempts=10,
        use_image_if_no_bounding_boxes=True)
    image = tf.image.resize(tf.slice(image, begin, size), (image_size, image_size))
    if augment.flip:
        image = tf.image.random_flip_left_right(image)
    return scaling.apply(image, preprocessing)


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
    return ds.batch(batch_size, drop_remainder=training).prefetch(AUTOTUNE)
