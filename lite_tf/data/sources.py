"""Datasets: any TFDS image-classification dataset, image folders, the bundled digits.

``dataset`` names a TFDS dataset (``'imagenet2012'``, ``'cifar10'``, the bundled offline
``'sklearn_digits'``, ``'fashion_mnist'`` from Debian's package), or ``'folder:/path'`` for a
``tfds.ImageFolder`` root whose split directories hold one directory per class. A dataset that is
not prepared is prepared from local files when ``LOCAL_SOURCES`` knows how, else downloaded when it
can be, and fails in one line when it cannot (offline, or a manual download).
"""

from __future__ import annotations

import difflib
import os

import tensorflow_datasets as tfds

from lite_tf import network
from lite_tf.data import fashion_mnist
from lite_tf.data.sklearn_digits import SklearnDigits  # noqa: F401  (registers sklearn_digits)
from lite_tf.errors import InputError

FOLDER_PREFIX = "folder:"
# Reachability check before a TFDS download: offline, TFDS's own retries take minutes to fail.
PROBE_URL = "https://storage.googleapis.com/tfds-data/"
# TFDS datasets that can be prepared from files on this machine: name -> module with
# ``prepare(data_dir, manual_dir) -> bool`` and ``missing_message(where)``.
LOCAL_SOURCES = {fashion_mnist.NAME: fashion_mnist}


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
        local = LOCAL_SOURCES.get(builder.name)
        if local and local.prepare(data_dir, manual_dir):
            return tfds.builder(dataset, data_dir=data_dir)
        _download_and_prepare(builder, dataset, manual_dir, local)
    return builder


def _download_and_prepare(builder, dataset: str, manual_dir: str | None, local=None):
    root = builder.data_dir_root
    options = (f"put a prepared copy in data_dir ({root}; train.data_dir), the source files in "
               f"manual_dir (train.manual_dir), or train on an image folder with "
               f"train.dataset = 'folder:/path'")
    if builder.MANUAL_DOWNLOAD_INSTRUCTIONS:
        manual_dir = manual_dir or os.path.join(root, "downloads", "manual")
        if not (os.path.isdir(manual_dir) and os.listdir(manual_dir)):
            raise InputError(f"dataset {dataset!r} is not prepared and needs a manual download "
                             f"(see its TFDS page; manual_dir {manual_dir} is empty): {options}")
    elif getattr(builder, "NEEDS_NETWORK", True) and not network.online(PROBE_URL):
        if local:
            raise InputError(local.missing_message() + "; offline, so TFDS "
                             "cannot download it")
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
