"""Input pipelines: any TFDS image-classification dataset, image folders, the bundled digits.

``dataset`` names a TFDS dataset (``'imagenet2012'``, ``'cifar10'``, the bundled offline
``'sklearn_digits'``), or ``'folder:/path'`` for a ``tfds.ImageFolder`` root whose split
directories hold one directory per class. Preprocessing lives here, not in the model:
Inception-style random resized crop (+ optional flip) for training, center crop + resize for
evaluation, then scaled as ``preprocessing`` names (``lite_tf.preprocessing``; default [-1, 1]);
parallel map, cache and prefetch with AUTOTUNE.
"""

from __future__ import annotations

import dataclasses
import difflib
import os

import requests
import tensorflow_datasets as tfds

import lite_tf.datasets  # noqa: F401  (registers sklearn_digits)
from lite_tf import preprocessing as scaling
from lite_tf.backend import tf
from lite_tf.errors import InputError

AUTOTUNE = tf.data.AUTOTUNE
CACHE_LIMIT_BYTES = 2 << 30  # cache decoded images in memory for datasets below 2 GiB
FOLDER_PREFIX = "folder:"
SHUFFLE_BUFFER = 10_000
# Reachability check before a TFDS download: offline, TFDS's own retries take minutes to fail.
PROBE_URL = "https://storage.googleapis.com/tfds-data/"
PROBE_TIMEOUT_SECONDS = 5


@dataclasses.dataclass(frozen=True)
class Augment:
    """Training augmentation: random resized crop over ``scale`` of the area with aspect ratios in
    ``ratio`` (Inception: 8%-100%, 3/4-4/3), then an optional horizontal flip."""

    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip: bool = True


def get_builder(dataset: str, data_dir: str | None = None, manual_dir: str | None = None):
    """The prepared TFDS builder for ``dataset`` (downloaded first if needed and possible).

    Raises InputError, in one line, for an unknown dataset, one that is not image
    classification, and one that is not prepared and cannot be downloaded here.
    """
    if dataset.startswith(FOLDER_PREFIX):
        root = os.path.expanduser(dataset[len(FOLDER_PREFIX):])
        if not os.path.isdir(root):
            raise InputError(f"image folder {root!r} does not exist")
        return tfds.ImageFolder(root)
    try:
        builder = tfds.builder(dataset, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        names = tfds.list_builders(with_community_datasets=False)  # the community index is online
        close = difflib.get_close_matches(dataset, names, n=3, cutoff=0.6)
        hint = f" (closest: {', '.join(close)})" if close else ""
        raise InputError(f"unknown dataset {dataset!r}: not a TFDS dataset{hint}; "
                         f"for your own images use 'folder:/path'") from None
    keys = builder.info.supervised_keys
    features = builder.info.features
    if not (keys and isinstance(features[keys[0]], tfds.features.Image)
            and isinstance(features[keys[1]], tfds.features.ClassLabel)):
        raise InputError(f"dataset {dataset!r} is not image classification "
                         f"(it needs an image input and a class label)")
    if not builder.is_prepared():
        _download_and_prepare(builder, dataset, manual_dir)
    return builder


def online(url: str = PROBE_URL, timeout: float = PROBE_TIMEOUT_SECONDS) -> bool:
    """Whether ``url`` answers within ``timeout`` seconds (through HTTPS_PROXY if set)."""
    try:
        requests.head(url, timeout=timeout)
        return True
    except requests.RequestException:
        return False


def _download_and_prepare(builder, dataset: str, manual_dir: str | None):
    root = builder.data_dir_root
    options = (f"put a prepared copy in data_dir ({root}; train.data_dir), the source files in "
               f"manual_dir (train.manual_dir), or train on an image folder with "
               f"train.dataset = 'folder:/path'")
    if builder.MANUAL_DOWNLOAD_INSTRUCTIONS:
        manual_dir = manual_dir or os.path.join(root, "downloads", "manual")
        if not (os.path.isdir(manual_dir) and os.listdir(manual_dir)):
            raise InputError(f"dataset {dataset!r} is not prepared and needs a manual download "
                             f"(see its TFDS page; manual_dir {manual_dir} is empty): {options}")
    elif getattr(builder, "NEEDS_NETWORK", True) and not online():
        raise InputError(f"dataset {dataset!r} is not prepared and cannot be downloaded "
                         f"(offline): {options}")
    config = tfds.download.DownloadConfig(manual_dir=manual_dir) if manual_dir else None
    builder.download_and_prepare(download_config=config)


def split_size(builder, split: str) -> int:
    """Examples in ``split`` (TFDS syntax, e.g. 'train[:90%]'); InputError if it has none."""
    try:
        size = builder.info.splits[split].num_examples
    except (KeyError, ValueError):
        raise InputError(f"dataset {builder.name!r} has no split {split!r}; splits: "
                         f"{', '.join(sorted(builder.info.splits))}") from None
    if not size:
        raise InputError(f"split {split!r} of dataset {builder.name!r} is empty")
    return size


def label_feature(builder):
    """The dataset's ClassLabel feature (``.names``, ``.num_classes``)."""
    return builder.info.features[builder.info.supervised_keys[1]]


def num_classes(builder) -> int:
    return label_feature(builder).num_classes


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
