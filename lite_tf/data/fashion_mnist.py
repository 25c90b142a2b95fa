"""Fashion-MNIST offline (Xiao et al. 2017, arXiv 1708.07747): TFDS's ``fashion_mnist``, prepared
from the four IDX files on this machine instead of downloaded.

Debian's package ``dataset-fashion-mnist`` installs them in ``/usr/share/datasets/fashion-mnist/``;
``train.manual_dir`` may hold them too (``.gz`` or not). Debian re-compressed its ``.gz`` files, so
their bytes differ from the upstream downloads TFDS checks; the decompressed IDX data is checked
against ``SOURCES`` instead, before anything is written. The prepared copy is TFDS's own
``fashion_mnist`` (same version, splits and features), so it loads as if TFDS had downloaded it.
"""

from __future__ import annotations

import gzip
import hashlib
import os

import numpy as np
import tensorflow_datasets as tfds
from tensorflow_datasets.image_classification import mnist

from lite_tf.errors import InputError

NAME = "fashion_mnist"
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
APT_PACKAGE = "dataset-fashion-mnist"
# IDX file: (decompressed bytes, SHA-256 of the decompressed data), measured on Debian's files
# (../shared/reference/datasets.md).
SOURCES = {
    "train-images-idx3-ubyte": (47_040_016, "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    "train-labels-idx1-ubyte": (60_008, "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    "t10k-images-idx3-ubyte": (7_840_016, "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    "t10k-labels-idx1-ubyte": (10_008, "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
}
SPLITS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
IDX_MAGIC = {1: 0x00000801, 3: 0x00000803}  # unsigned bytes, 1 (labels) or 3 (images) dimensions


def missing_message(where: str = DEBIAN_DIR) -> str:
    return (f"Fashion-MNIST is not prepared and its IDX files are not in {where}: "
            f"install Debian's package (apt-get install -y {APT_PACKAGE}; files in {DEBIAN_DIR}) "
            f"or put the four files (.gz or not) in train.manual_dir")


def find_files(directory: str) -> dict[str, str] | None:
    """{IDX name: path} in ``directory`` (each as ``name`` or ``name.gz``), None if any is missing."""
    found = {}
    for name in SOURCES:
        paths = [os.path.join(directory, name + ext) for ext in ("", ".gz")]
        path = next((p for p in paths if os.path.isfile(p)), None)
        if path is None:
            return None
        found[name] = path
    return found


def read_verified(name: str, path: str) -> bytes:
    """The decompressed IDX data of ``path``; InputError if its size or SHA-256 is not ``name``'s."""
    size, sha256 = SOURCES[name]
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                data = f.read(size + 1)
        else:
            with open(path, "rb") as f:
                data = f.read(size + 1)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise InputError(f"Fashion-MNIST file {path} is corrupt ({e}); reinstall {APT_PACKAGE} "
                         f"or replace it") from None
    if len(data) != size or hashlib.sha256(data).hexdigest() != sha256:
        got = f"{len(data):,} bytes" if len(data) != size else "a different SHA-256"
        raise InputError(f"Fashion-MNIST file {path} is corrupt: its data has {got}, not the "
                         f"{size:,} bytes of SHA-256 {sha256[:12]}...; reinstall {APT_PACKAGE} "
                         f"or replace it")
    return data


def parse_idx(data: bytes) -> np.ndarray:
    """An IDX file's array (unsigned bytes), shaped as its header says."""
    magic = int.from_bytes(data[:4], "big")
    dims = data[3]
    if dims not in IDX_MAGIC or magic != IDX_MAGIC[dims]:
        raise InputError(f"not an IDX file of unsigned bytes (magic {magic:#010x})")
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_verified(files: dict[str, str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{split: (images N x 28 x 28 x 1, labels N)} from verified files."""
    arrays = {name: parse_idx(read_verified(name, path)) for name, path in files.items()}
    return {split: (arrays[images][..., None], arrays[labels])
            for split, (images, labels) in SPLITS.items()}


with tfds.core.registered.skip_registration():
    class _LocalFashionMNIST(mnist.FashionMNIST):
        """TFDS's fashion_mnist, generated from verified arrays instead of downloads."""

        name = NAME

        def __init__(self, *, arrays, **kwargs):
            self._arrays = arrays
            super().__init__(**kwargs)

        def _split_generators(self, dl_manager):
            del dl_manager  # the files are local and already checked
            return {split: self._examples(*arrays) for split, arrays in self._arrays.items()}

        def _examples(self, images, labels):
            for index, (image, label) in enumerate(zip(images, labels)):
                yield index, {"image": image, "label": int(label)}


def prepare(data_dir: str | None, manual_dir: str | None) -> bool:
    """Prepare ``fashion_mnist`` in ``data_dir`` from local IDX files: ``manual_dir`` if given
    (InputError if they are not there), else Debian's location. False if there are none (the
    caller may still download); InputError, before anything is written, if one is corrupt."""
    directory = os.path.expanduser(manual_dir) if manual_dir else DEBIAN_DIR
    files = find_files(directory)
    if files is None:
        if manual_dir:
            raise InputError(missing_message(f"train.manual_dir ({directory})"))
        return False
    arrays = load_verified(files)
    _LocalFashionMNIST(arrays=arrays, data_dir=data_dir).download_and_prepare()
    return True
