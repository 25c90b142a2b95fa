"""Pretrained weights: reference checkpoints convert exactly into the zoo (the official MobileNeXt
and megvii maps: test_official_manifests.py), converted files load
from the cache, a cache miss offline fails at once in one line, and training fine-tunes from them.

The torchvision comparisons need the optional extra (pip install 'lite_tf[torch]'), which CI
installs; without it they skip.
"""

import hashlib
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import one_error_line, run_module, shared, snapshot, stage
from lite_tf import rundir
from lite_tf.data import preprocessing
from lite_tf.backend import keras
from lite_tf.errors import InputError
from lite_tf.models import create_model, get_entry
from lite_tf.models.registry import fresh_builder
from lite_tf.weights import pretrained
from test_keras_applications import randomize_batchnorm



@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty weights cache; any attempt to reach the network fails the test."""
    monkeypatch.setenv(pretrained.CACHE_ENV, str(tmp_path / "cache"))

    def no_network(*args, **kwargs):
        raise AssertionError("the test tried to reach the network")

    monkeypatch.setattr("lite_tf.network.online", no_network)
    return tmp_path / "cache"


TORCHVISION = [  # zoo model, reference builder (torchvision's, or timm's as timm:<name>), zoo settings the port needs
    ("mobilenet_v2_100", "mobilenet_v2", {"padding": "symmetric", "bn_epsilon": 1e-5}),
    ("shufflenet_v2_050", "shufflenet_v2_x0_5", {}),
    ("shufflenet_v2_100", "shufflenet_v2_x1_0", {}),
    ("shufflenet_v2_150", "shufflenet_v2_x1_5", {}),
    ("shufflenet_v2_200", "shufflenet_v2_x2_0", {}),
    ("squeezenet_10", "squeezenet1_0", {}),
    ("squeezenet_11", "squeezenet1_1", {}),
    ("mobilenet_v3_large_100", "mobilenet_v3_large", {}),
    ("mobilenet_v3_small_100", "mobilenet_v3_small", {}),
    ("mobilenet_v3_large_100", "timm:mobilenetv3_large_100", {"bn_epsilon": 1e-5}),
    ("mobilenet_v3_large_075", "timm:mobilenetv3_large_075", {"bn_epsilon": 1e-5}),
    ("mobilenet_v3_small_100", "timm:mobilenetv3_small_100", {"bn_epsilon": 1e-5}),
    ("mobilenet_v3_small_075", "timm:mobilenetv3_small_075", {"bn_epsilon": 1e-5}),
    ("mobilenet_v3_large_minimal_100", "timm:tf_mobilenetv3_large_minimal_100", {}),
    ("mobilenet_v3_small_minimal_100", "timm:tf_mobilenetv3_small_minimal_100", {}),
    *((f"efficientnet_lite{i}", f"timm:tf_efficientnet_lite{i}", {}) for i in range(5)),
    ("mnasnet_050", "mnasnet0_5", {}),
    ("mnasnet_100", "mnasnet1_0", {}),
    ("mnasnet_100", "timm:mnasnet_100", {}),
    ("ghostnet_100", "timm:ghostnet_100", {}),
    *((f"mobilenet_v4_conv_{size}", f"timm:mobilenetv4_conv_{size}", {})
      for size in ("small", "medium", "large")),
]
# In the default suite: one port per reference layout; the other variants and the widest of each
# layout are slow, the widths between them the sweep (python -m pytest -m sweep).
DEFAULT_PORTS = {"mobilenet_v2", "shufflenet_v2_x0_5", "squeezenet1_1", "mobilenet_v3_small",
                 "timm:mobilenetv3_small_100", "timm:tf_efficientnet_lite0", "mnasnet0_5",
                 "timm:ghostnet_100", "timm:mobilenetv4_conv_small"}
SWEEP_PORTS = {"shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "timm:mobilenetv3_large_075",
               "timm:mobilenetv3_small_075", *(f"timm:tf_efficientnet_lite{i}" for i in (1, 2, 3))}

# Runs in a process of its own: torchvision imported after TensorFlow crashes the process. timm's
# models are saved as .safetensors, as timm publishes them on the Hugging Face hub.
REFERENCES = """
import sys, numpy as np, torch, torchvision
out = sys.argv[1]
x = np.random.RandomState(0).randn(2, 224, 224, 3).astype("float32")
np.save(f"{out}/x.npy", x)
for builder in sys.argv[2:]:
    torch.manual_seed(0)
    if builder.startswith("timm:"):
        import timm
        model = timm.create_model(builder[5:])
    else:
        model = getattr(torchvision.models, builder)()
    for m in model.modules():  # random BatchNorm statistics, not the identity of a fresh layer
        if isinstance(m, torch.nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5); m.bias.normal_(0, 0.1)
                m.running_mean.normal_(0, 0.1); m.running_var.uniform_(0.5, 1.5)
        if isinstance(m, torch.nn.Linear):  # not torchvision's near-zero classifier init
            with torch.no_grad():
                m.weight.normal_(0, 0.05)
    model.eval()
    inputs = torch.from_numpy(x.transpose(0, 3, 1, 2))
    head = [m for m in model.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))][-1]
    with torch.no_grad():  # logits of order 1, so the absolute tolerance means the same for all
        scale = model(inputs).abs().max()
        head.weight.div_(scale); head.bias.div_(scale)
    name = builder.replace(":", "_")
    if builder.startswith("timm:"):
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, f"{out}/{name}.safetensors")
    else:
        torch.save(model.state_dict(), f"{out}/{name}.pth")
    with torch.no_grad():
        np.save(f"{out}/{name}.npy", model(inputs).numpy())
"""


def checkpoint_of(folder, builder):
    name = builder.replace(":", "_")
    return folder / (f"{name}.safetensors" if builder.startswith("timm:") else f"{name}.pth")


@pytest.fixture(scope="session")
def torchvision_references(tmp_path_factory, worker_id, request):
    """Each model of TORCHVISION built by torchvision (or timm) with random weights: its checkpoint
    and its logits ``<builder>.npy`` on the batch ``x.npy``, made by the reference itself (once
    for the selection, by the first worker to ask)."""
    if importlib.util.find_spec("torchvision") is None or importlib.util.find_spec("timm") is None:
        pytest.skip("torchvision or timm is not installed (pip install 'lite_tf[torch]')")
    selected = sorted({item.callspec.params["builder"] for item in request.session.items
                       if "builder" in getattr(getattr(item, "callspec", None), "params", {})}
                      | {"squeezenet1_1"})

    def make(out):
        out.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([sys.executable, "-c", REFERENCES, str(out), *selected],  # only those selected
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]

    digest = hashlib.sha256(" ".join(selected).encode()).hexdigest()[:12]
    return shared(tmp_path_factory, worker_id, f"torchvision_{digest}", make)


@pytest.mark.parametrize("name,builder,settings", [
    pytest.param(*port, marks=() if port[1] in DEFAULT_PORTS else
                 pytest.mark.sweep if port[1] in SWEEP_PORTS else pytest.mark.slow) for port in TORCHVISION])
def test_torchvision_checkpoint_gives_the_same_logits(name, builder, settings,
                                                      torchvision_references):
    build = fresh_builder(name)  # at the batch's 224x224 (TF padding depends on the input size)
    net, meta = pretrained.convert_checkpoint(
        get_entry(name), str(checkpoint_of(torchvision_references, builder)),
        lambda **overrides: build(input_shape=(224, 224, 3), **overrides))
    assert meta["overrides"] == settings
    assert meta["preprocessing"] == ("tf" if builder.startswith("timm:tf_") else "torch")
    assert meta["source"] == ("timm" if builder.startswith("timm:") else "torchvision")
    want = np.load(torchvision_references / f"{builder.replace(':', '_')}.npy")
    got = net(np.load(torchvision_references / "x.npy"), training=False).numpy()
    assert np.abs(want).max() > 0.05  # logits, not a degenerate all-zero output
    assert np.abs(got - want).max() <= 1e-4


def test_keras_applications_h5_checkpoint_gives_the_same_logits(tmp_path, rng):
    """A keras.applications .h5 (MobileNetV2 at alpha 0.5) through the import path."""
    reference = keras.applications.MobileNetV2(alpha=0.5, weights=None, classifier_activation=None)
    randomize_batchnorm(reference, rng)
    checkpoint = tmp_path / "mobilenet_v2_0.5.h5"
    reference.save_weights(checkpoint)
    net, meta = pretrained.convert_checkpoint(get_entry("mobilenet_v2_050"), str(checkpoint),
                                              fresh_builder("mobilenet_v2_050"))
    assert meta["source"] == "keras.applications" and meta["preprocessing"] == "tf"
    x = rng.uniform(-1, 1, (2, 224, 224, 3)).astype("float32")
    diff = np.abs(reference(x, training=False).numpy() - net(x, training=False).numpy()).max()
    assert diff <= 1e-4


def test_imagenet_without_cache_offline_is_one_line_naming_the_source_and_import(cache):
    with pytest.raises(InputError) as error:
        create_model("mobilenext_100", weights="imagenet")
    message = str(error.value)
    assert "\n" not in message
    assert "https://github.com/zhoudaquan/rethinking_bottleneck_design" in message
    assert "python -m lite_tf.weights import mobilenext_100 CHECKPOINT" in message
    assert not cache.exists()


def test_imagenet_download_offline_is_one_line_naming_the_url(cache, monkeypatch):
    monkeypatch.setattr("lite_tf.network.online", lambda url, timeout: False)
    with pytest.raises(InputError, match=r"https://download\.pytorch\.org/models/shufflenetv2_x1-"
                                         r"5666bf0f80\.pth cannot be reached \(offline\): .* "
                                         r"python -m lite_tf\.weights import shufflenet_v2_100"):
        create_model("shufflenet_v2_100", weights="imagenet")
    with pytest.raises(InputError, match="no ImageNet weights for snet_49; models with them: "):
        create_model("snet_49", weights="imagenet")


def cached_weights(model_name, meta=None):
    """A converted file for ``model_name`` in the cache, with random weights (the model)."""
    source = create_model(model_name)
    for layer in source.layers:
        layer.set_weights([np.random.RandomState(1).randn(*w.shape).astype("float32")
                           for w in layer.get_weights()])
    pretrained.write(pretrained.cached_file(model_name), source,
                     {"format": pretrained.FORMAT, "model": model_name, "source": "test",
                      "preprocessing": "torch", "overrides": {}, "num_classes": 1000, **(meta or {})})
    return source


def test_cached_weights_load_with_a_new_classifier_for_new_classes(cache):
    source = cached_weights("mobilenext_035")
    same = create_model("mobilenext_035", weights="imagenet")
    for a, b in zip(source.get_weights(), same.get_weights()):
        np.testing.assert_array_equal(a, b)
    digits = create_model("mobilenext_035", weights="imagenet", num_classes=10,
                          input_shape=(32, 32, 3))
    for layer in digits.layers:
        if layer.weights and layer.name != "logits":
            for a, b in zip(source.get_layer(layer.name).get_weights(), layer.get_weights()):
                np.testing.assert_array_equal(a, b)
    assert digits.get_layer("logits").kernel.shape == (1280, 10)
    features = create_model("mobilenext_035", weights="imagenet", include_top=False, pooling="avg")
    assert len(features.get_weights()) == len(source.get_weights()) - 2
    with pytest.raises(InputError, match="holds the weights of mobilenext_035, not mobilenext_050"):
        create_model("mobilenext_050", weights=pretrained.cached_file("mobilenext_035"))


def test_weights_bring_the_settings_they_need(cache):
    """torchvision's MobileNetV2 needs PyTorch padding and epsilon: loading applies them."""
    cached_weights("mobilenet_v2_035", {"overrides": {"padding": "symmetric", "bn_epsilon": 1e-5}})
    model = create_model("mobilenet_v2_035", weights="imagenet")
    assert model.get_layer("stem_pad").padding == ((1, 1), (1, 1))
    assert model.get_layer("stem_bn").epsilon == 1e-5
    assert pretrained.preprocessing(get_entry("mobilenet_v2_035"), "imagenet") == "torch"
    assert pretrained.preprocessing(get_entry("mobilenet_v2_100"), "imagenet") == "tf"  # not cached: keras


def test_preprocessing_presets_scale_pixels_as_their_references():
    pixel = np.array([[255.0, 0.0, 127.5]])
    np.testing.assert_allclose(preprocessing.apply(pixel, "tf"), [[1.0, -1.0, 0.0]])
    torch_scaled = (np.array([1.0, 0.0, 0.5]) - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    np.testing.assert_allclose(preprocessing.apply(pixel, "torch"), [torch_scaled], rtol=1e-6)
    np.testing.assert_allclose(preprocessing.apply(pixel, "bgr"), [[127.5, 0.0, 255.0]])
    with pytest.raises(InputError, match="unknown preprocessing 'caffe'; one of tf, torch, bgr"):
        preprocessing.get("caffe")


@pytest.mark.slow  # a training run
def test_fine_tuning_from_imagenet_weights_is_one_gin_line(cache, tmp_path, digits_dir):
    """`create_model.weights = 'imagenet'`: the run starts from the cached weights (fresh
    classifier for the 10 digits), scales images as the weights expect and records both."""
    cached_weights("mobilenext_035")
    workdir = tmp_path / "run"
    stage("quickstart", None, workdir, "train.model = 'mobilenext_035'", "create_model.weights = 'imagenet'",
          "train.learning_rate = 0.0", "train.warmup_epochs = 0", "train.image_size = 32",
          f"train.data_dir = '{digits_dir}'")
    config = (workdir / "config.gin").read_text()
    assert "create_model.weights = 'imagenet'" in config
    assert config.rstrip().endswith("train.preprocessing = 'torch'")
    trained = keras.models.load_model(workdir / "model.keras", compile=False)
    source = pretrained.read(pretrained.cached_file("mobilenext_035"))[0]
    np.testing.assert_array_equal(trained.get_layer("stem").get_weights()[0], source["stem"][0])
    run = rundir.find_run(str(workdir))
    assert run["preprocessing"] == "torch" and run.weights == "imagenet"


@pytest.mark.slow  # three commands in subprocesses (torch beside TensorFlow): 13 s
def test_import_command_writes_the_cache_and_bad_input_writes_nothing(tmp_path,
                                                                     torchvision_references):
    import torch

    checkpoint = tmp_path / "squeezenet1_1.pth"
    # a training script's checkpoint: DataParallel names inside a "state_dict" entry
    state = torch.load(torchvision_references / "squeezenet1_1.pth", weights_only=True)
    torch.save({"epoch": 90, "state_dict": {f"module.{k}": v for k, v in state.items()}}, checkpoint)
    env = dict(os.environ, **{pretrained.CACHE_ENV: str(tmp_path / "cache")})
    before = snapshot(tmp_path)
    bad = run_module("lite_tf.weights", ["import", "shufflenet_v2_100", str(checkpoint)],
                     env=env)
    assert "cannot convert" in one_error_line(bad, "python -m lite_tf.weights")
    assert snapshot(tmp_path) == before
    proc = run_module("lite_tf.weights", ["import", "squeezenet_11", str(checkpoint)], env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = tmp_path / "cache" / "weights" / "squeezenet_11.npz"
    assert f"weights        {out}" in proc.stdout and "parameters     1,235,496" in proc.stdout
    listing = run_module("lite_tf.weights", ["list"], env=env)
    assert any(line.startswith("squeezenet_11 ") and line.endswith("yes")
               for line in listing.stdout.splitlines())
