"""Every model reproduces its reference: exact trainable parameters, MACs within 3%."""

import pathlib
import re

import pytest
from conftest import sampled

from lite_tf.models import list_models
from lite_tf.models.reference import REFERENCES
from lite_tf.models.profile import profile

# Trainable parameters at 1000 classes, at the model's default input, counted on the reference implementations
# (../shared/reference/architectures.md), and MACs in millions.
EXPECTED = {
    "mobilenet_v1_025": (470_072, 41), "mobilenet_v1_050": (1_331_592, 149),
    "mobilenet_v1_075": (2_585_560, 325), "mobilenet_v1_100": (4_231_976, 569),
    "mobilenet_v2_035": (1_677_128, 59.3), "mobilenet_v2_050": (1_968_680, 97.1),
    "mobilenet_v2_075": (2_636_424, 209.1), "mobilenet_v2_100": (3_504_872, 300.8),
    "mobilenet_v2_140": (6_108_776, 582.2),
    "mobilenext_035": (1_913_976, 75.1), "mobilenext_050": (2_152_304, 103.3),
    "mobilenext_075": (2_766_168, 207.9), "mobilenext_100": (3_535_416, 311.3),
    "mobilenext_140": (6_126_168, 588.3),
    "shufflenet_v1_g3_050": (717_324, 37.6), "shufflenet_v1_g8_050": (1_010_448, 40.5),
    "shufflenet_v1_g3_100": (1_864_728, 137.5), "shufflenet_v1_g8_100": (2_433_768, 138.4),
    "shufflenet_v1_g3_150": (3_441_168, 292.4), "shufflenet_v1_g8_150": (4_268_952, 290.2),
    "shufflenet_v1_g3_200": (5_449_776, 524.0), "shufflenet_v1_g8_200": (6_521_232, 521.9),
    "shufflenet_v2_050": (1_366_792, 40.5), "shufflenet_v2_100": (2_278_604, 144.9),
    "shufflenet_v2_150": (3_503_624, 295.8), "shufflenet_v2_200": (7_393_996, 583.3),
    "squeezenet_10": (1_248_424, 818.9), "squeezenet_11": (1_235_496, 349.2),
    "mobilenet_v3_large_075": (3_993_528, 154.6), "mobilenet_v3_large_100": (5_483_032, 216.6),
    "mobilenet_v3_small_075": (2_041_872, 43.4), "mobilenet_v3_small_100": (2_542_856, 56.5),
    "mobilenet_v3_large_minimal_100": (3_924_288, 209.1),
    "mobilenet_v3_small_minimal_100": (2_044_736, 52.3),
    "efficientnet_lite0": (4_652_008, 385.2), "efficientnet_lite1": (5_416_680, 600.2),
    "efficientnet_lite2": (6_092_072, 859.7), "efficientnet_lite3": (8_197_096, 1607.6),
    "efficientnet_lite4": (13_006_568, 3943.6),
    "mnasnet_050": (2_218_512, 104.5), "mnasnet_100": (4_383_312, 314.4),
    "ghostnet_100": (5_182_508, 141.2),
    "mobilenet_v4_conv_small": (3_774_024, 186.0), "mobilenet_v4_conv_medium": (9_715_512, 1080.2),
    "mobilenet_v4_conv_large": (32_590_864, 6376.2),
}
SHARED = pathlib.Path(__file__).resolve().parents[2] / "shared" / "reference" / "architectures.md"


@pytest.mark.parametrize("name", sampled(sorted(EXPECTED), ends=True))  # the widths between: -m sweep
def test_exact_params_and_macs(name):
    params, macs = EXPECTED[name]
    result = profile(name)
    assert result["trainable_params"] == params
    assert result["macs"] == pytest.approx(macs * 1e6, rel=0.03)
    assert result["reference"]["params_ratio"] == 1.0


def test_mobilefacenet_within_3_percent_of_paper():
    result = profile("mobilefacenet")  # 112x112, the 128-d embedding network
    assert result["input_shape"] == [112, 112, 3]
    assert result["trainable_params"] == pytest.approx(0.99e6, rel=0.03)
    assert result["macs"] == pytest.approx(221e6, rel=0.03)


@pytest.mark.parametrize("name,paper", [("snet_49", 49), ("snet_146", 146), ("snet_535", 535)])
def test_snet_macs_reported_beside_paper(name, paper):
    # ThunderNet's names are its MFLOPs; the reimplementations' channel tables count about
    # 51/163/540M at 224x224, so this only pins the count near the name.
    result = profile(name)
    assert result["reference"]["macs"] == paper * 1e6
    assert result["macs"] == pytest.approx(paper * 1e6, rel=0.12)


def test_every_model_has_a_reference_figure():
    assert sorted(REFERENCES) == list_models()


def test_library_reference_table_matches_the_shared_file():
    """The figures the profiler shows are the reference file's (when it is beside the repo)."""
    if not SHARED.exists():
        pytest.skip(f"{SHARED} not present")
    numbers = {int(n.replace(",", "")) for n in re.findall(r"\b\d{1,3}(?:,\d{3})+\b", SHARED.read_text())}
    exact = {name: ref.params for name, ref in REFERENCES.items() if ref.exact}
    assert sorted(exact) == sorted(EXPECTED)
    for name, params in exact.items():
        assert params == EXPECTED[name][0] and params in numbers, name
