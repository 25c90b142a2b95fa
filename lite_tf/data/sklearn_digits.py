"""The handwritten digits scikit-learn bundles, as a TFDS dataset: ``sklearn_digits``.

1,797 real 8x8 grayscale digits (the UCI optdigits test set, 16 gray levels) that ship inside
scikit-learn, so lite_tf's quickstart trains offline through the same TFDS pipeline as any other
dataset. The split is fixed: a seeded permutation, 360 test images (20%), 1,437 train.
"""

import numpy as np
import tensorflow_datasets as tfds

TEST_SIZE = 360
SEED = 0


class SklearnDigits(tfds.core.GeneratorBasedBuilder):
    """scikit-learn's 8x8 handwritten digits (offline; no download)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Fixed 1,437 / 360 train / test split."}
    NEEDS_NETWORK = False  # lite_tf.data skips its reachability check

    def _info(self):
        return self.dataset_info_from_configs(
            description=__doc__,
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(8, 8, 1)),
                "label": tfds.features.ClassLabel(names=[str(d) for d in range(10)]),
            }),
            supervised_keys=("image", "label"),
            homepage="https://scikit-learn.org/stable/datasets/toy_dataset.html#digits-dataset",
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # the data is bundled with scikit-learn
        order = np.random.RandomState(SEED).permutation(1797)
        return {"train": self._generate_examples(order[TEST_SIZE:]),
                "test": self._generate_examples(order[:TEST_SIZE])}

    def _generate_examples(self, indices):
        from sklearn.datasets import load_digits  # scikit-learn: only when the data is prepared
        digits = load_digits()
        images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
        for i in indices:
            yield int(i), {"image": images[i], "label": int(digits.target[i])}
