"""Input pipelines: the bundled digits, TFDS datasets (mocked) and image folders, all offline."""

import time

import numpy as np
import pytest
import tensorflow_datasets as tfds

from lite_tf import network
from lite_tf.backend import tf
from lite_tf.data import pipeline, sources
from lite_tf.errors import InputError


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    return sources.get_builder("sklearn_digits", data_dir=str(tmp_path_factory.mktemp("tfds")))


def test_digits_is_a_fixed_split_of_the_real_data(digits):
    assert digits.info.splits["train"].num_examples == 1437
    assert digits.info.splits["test"].num_examples == 360
    images, labels = zip(*tfds.as_numpy(digits.as_dataset(split="test", as_supervised=True)))
    assert np.asarray(images).shape == (360, 8, 8, 1) and max(np.asarray(images).ravel()) == 255
    assert sorted(set(labels)) == list(range(10))
    from sklearn.datasets import load_digits
    real = np.round(load_digits().images * 255 / 16).astype(np.uint8)
    assert any(np.array_equal(images[0][..., 0], r) for r in real)


def test_training_and_eval_pipelines(digits):
    train = pipeline.make_dataset(digits, "train", training=True, batch_size=32, image_size=40,
                              augment=pipeline.Augment(scale=(0.5, 1.0), flip=False), seed=0)
    x, y = next(iter(train))
    assert x.shape == (32, 40, 40, 3) and y.shape == (32, 10)
    assert -1.0 <= float(tf.reduce_min(x)) and float(tf.reduce_max(x)) <= 1.0
    evaluation = pipeline.make_dataset(digits, "test", training=False, batch_size=100, image_size=40,
                                   crop_fraction=1.0)
    assert sum(int(x.shape[0]) for x, _ in evaluation) == 360  # every example, last batch too
    first = np.concatenate([x.numpy() for x, _ in evaluation])
    again = np.concatenate([x.numpy() for x, _ in evaluation])
    np.testing.assert_array_equal(first, again)  # evaluation is deterministic


def test_mixup_mixes_each_batch_with_itself_reversed_by_one_weight(digits):
    """Images and labels by the same w ~ Beta(a, a), one per batch: each mixed batch is
    w * x + (1 - w) * x reversed, for the batch x the same seed gives without mixup."""
    def batches(mixup):
        augment = pipeline.Augment(crop="pad", pad_fraction=0.0, flip=False, mixup=mixup)
        ds = pipeline.make_dataset(digits, "train", training=True, batch_size=16, image_size=8,
                                   augment=augment, seed=0)
        return [tuple(t.numpy() for t in batch) for batch, _ in zip(ds, range(20))]

    weights = []
    for (x, y), (mixed_x, mixed_y) in zip(batches(0.0), batches(0.4)):
        i = next(i for i in range(16) if y[i].argmax() != y[15 - i].argmax())
        w = mixed_y[i, y[i].argmax()]  # the weight of its own label
        np.testing.assert_allclose(mixed_y, w * y + (1 - w) * y[::-1], atol=1e-6)
        np.testing.assert_allclose(mixed_x, w * x + (1 - w) * x[::-1], atol=1e-5)
        weights.append(w)
    assert 0 <= min(weights) and max(weights) <= 1
    assert np.std(weights) > 0.15  # a weight drawn for each batch (Beta(0.4, 0.4): 0.37)


def test_eval_transform_center_crops():
    image = np.zeros((8, 8, 3), np.uint8)
    image[2:6, 2:6] = 255
    out = pipeline.eval_transform(image, 4, crop_fraction=0.5).numpy()
    np.testing.assert_allclose(out, 1.0)  # only the bright center survives


def test_any_tfds_dataset_by_name(tmp_path, monkeypatch):
    monkeypatch.setattr(network, "online", lambda url: True)  # mock_data stands in for the download
    with tfds.testing.mock_data(num_examples=20):
        builder = sources.get_builder("cifar10", data_dir=str(tmp_path))
        x, y = next(iter(pipeline.make_dataset(builder, "train", training=True, batch_size=8,
                                           image_size=32)))
    assert x.shape == (8, 32, 32, 3) and y.shape == (8, 10)


def test_image_folder(tmp_path, rng):
    for split in ("train", "test"):
        for label in ("cat", "dog"):
            folder = tmp_path / split / label
            folder.mkdir(parents=True)
            for i in range(3):
                png = tf.io.encode_png(rng.randint(0, 255, (20, 24, 3)).astype(np.uint8))
                (folder / f"{i}.png").write_bytes(png.numpy())
    builder = sources.get_builder(f"folder:{tmp_path}")
    assert builder.info.features["label"].names == ["cat", "dog"]
    x, _ = next(iter(pipeline.make_dataset(builder, "test", training=False, batch_size=6,
                                       image_size=16)))
    assert x.shape == (6, 16, 16, 3)
    with pytest.raises(ValueError, match="does not exist"):
        sources.get_builder(f"folder:{tmp_path}/missing")


def test_unknown_and_unsuitable_datasets_are_one_line_errors(tmp_path):
    with pytest.raises(InputError, match=r"unknown dataset 'cifar_10': not a TFDS dataset "
                                         r"\(closest: cifar10, .*'folder:/path'$"):
        sources.get_builder("cifar_10", data_dir=str(tmp_path))
    with pytest.raises(InputError, match="'imdb_reviews' is not image classification"):
        sources.get_builder("imdb_reviews", data_dir=str(tmp_path))
    with pytest.raises(InputError, match="image folder '/no/such/dir' does not exist"):
        sources.get_builder("folder:/no/such/dir")


def test_offline_download_fails_fast_and_names_the_ways_out(tmp_path, monkeypatch):
    # A dead proxy makes this test offline on any machine (TFDS downloads honour it too).
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    start = time.time()
    with pytest.raises(InputError) as error:
        sources.get_builder("mnist", data_dir=str(tmp_path))
    assert time.time() - start < 30
    message = str(error.value)
    assert "\n" not in message and "'mnist' is not prepared and cannot be downloaded" in message
    for way_out in (f"data_dir ({tmp_path}", "manual_dir", "folder:/path"):
        assert way_out in message
    with pytest.raises(InputError, match=r"needs a manual download .*manual_dir .* is empty"):
        sources.get_builder("imagenet2012", data_dir=str(tmp_path), manual_dir=str(tmp_path / "m"))


def test_unknown_and_empty_splits(digits):
    assert sources.split_size(digits, "train[:10%]") == 144
    with pytest.raises(InputError, match="has no split 'validation'; splits: test, train"):
        sources.split_size(digits, "validation")
    with pytest.raises(InputError, match="split 'train\\[:0\\]' of dataset 'sklearn_digits' is empty"):
        sources.split_size(digits, "train[:0]")
