"""Every config in configs/ parses, names a registered model and an image-classification dataset,
and opens with the comment the README promises (command, dataset, expected result and time)."""

import os

import gin
import pytest
import tensorflow_datasets as tfds

from conftest import configs_by_kind
from lite_tf.errors import InputError
from lite_tf.models import create_model, list_models
from lite_tf.training import config, settings
from lite_tf.training.launch import launch

# Training recipes; compression stages (qat.gin, ...) are tested in test_compress.py.
CONFIGS = configs_by_kind()[0]


def parse(name):
    gin.clear_config()
    path = config.resolve_config(name)
    gin.add_config_file_search_path(os.path.dirname(path))
    gin.parse_config_file(path)
    return path


@pytest.mark.parametrize("name", CONFIGS)
def test_config_is_complete_and_documented(name):
    path = parse(name)
    header = [line for line in open(path).read().splitlines() if line.startswith("#")]
    assert header[0].startswith(f"# python -m train --config {name}")
    text = " ".join(header)
    model, dataset = gin.query_parameter("train.model"), gin.query_parameter("train.dataset")
    for promise in ("Dataset:", "Expected:", "GPUs" if dataset == "imagenet2012" else "CPU cores"):
        assert promise in text, promise  # the time it takes, on the hardware it was measured on
    assert model in list_models()
    builder = tfds.builder(dataset)  # offline: the dataset's metadata only
    assert builder.info.supervised_keys == ("image", "label")
    size = gin.query_parameter("train.image_size")
    overrides = settings.from_gin().model.model_overrides or {}
    assert create_model(model, num_classes=10, input_shape=(size, size, 3),
                        **overrides).output_shape == (None, 10)


def test_family_configs_cover_every_imagenet_family():
    assert {"mobilenet_v1", "mobilenet_v2", "mobilenext", "shufflenet_v1", "shufflenet_v2",
            "squeezenet", "snet", "quickstart"} <= set(CONFIGS)


def test_include_resolves_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="'imagenet2012' is not prepared and needs a manual "
                                         "download"):  # parsed fully (include found), then checked
        launch(["mobilenet_v2"], [f"train.data_dir = '{tmp_path}'"], str(tmp_path / "run"))
    assert gin.query_parameter("train.dataset") == "imagenet2012"
    assert not (tmp_path / "run").exists()
