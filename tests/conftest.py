import lite_tf  # noqa: F401  (selects tf_keras before TensorFlow is imported anywhere)

import numpy as np
import pytest

from lite_tf.models import get_entry, list_families, list_models


def one_per_family() -> list[str]:
    """The smallest registered variant of each family (the default suite's representatives)."""
    return [min(list_models(f), key=lambda n: get_entry(n).settings.get("width", 1.0))
            for f in list_families()]


@pytest.fixture
def rng():
    return np.random.RandomState(0)


@pytest.fixture(scope="session")
def digits_dir(tmp_path_factory) -> str:
    """A TFDS data_dir with the bundled digits prepared (once per test process)."""
    from lite_tf import data

    path = str(tmp_path_factory.mktemp("tfds"))
    data.get_builder("sklearn_digits", data_dir=path)
    return path
