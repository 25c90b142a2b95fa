"""Published complexity of each zoo model at its default input (224x224x3; MobileFaceNet 112x112x3,
EfficientNet-Lite1-4 240-380, MobileNetV4-Conv Medium and Large 256 and 384), 1000 classes.

``params``: trainable parameters, exact where counted on the reference implementation
(``exact=True``), else the paper's figure. ``macs``: multiply-accumulates of conv and dense
layers, counted on the reference implementation or from the paper (ShuffleNet's "FLOPs").
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Reference:
    params: int | None
    macs: float  # millions
    source: str
    exact: bool = True
    top1: float | None = None


_KERAS_V1 = "keras.applications MobileNet; MACs: arXiv 1704.04861"
_V2 = "torchvision / keras.applications MobileNetV2"
_MNEXT = "official MobileNeXt code (mnext.py)"
_MEGVII = "megvii ShuffleNetV1 (network.py)"
_TV = "torchvision"
_TIMM = "timm 1.0.31"

REFERENCES: dict[str, Reference] = {
    "mobilenet_v1_025": Reference(470_072, 41, _KERAS_V1, top1=50.6),
    "mobilenet_v1_050": Reference(1_331_592, 149, _KERAS_V1, top1=63.7),
    "mobilenet_v1_075": Reference(2_585_560, 325, _KERAS_V1, top1=68.4),
    "mobilenet_v1_100": Reference(4_231_976, 569, _KERAS_V1, top1=70.6),
    "mobilenet_v2_035": Reference(1_677_128, 59.3, _V2, top1=60.3),
    "mobilenet_v2_050": Reference(1_968_680, 97.1, _V2, top1=65.4),
    "mobilenet_v2_075": Reference(2_636_424, 209.1, _V2, top1=69.8),
    "mobilenet_v2_100": Reference(3_504_872, 300.8, _V2, top1=71.8),
    "mobilenet_v2_140": Reference(6_108_776, 582.2, _V2, top1=75.0),
    "mobilenext_035": Reference(1_913_976, 75.1, _MNEXT, top1=64.7),
    "mobilenext_050": Reference(2_152_304, 103.3, _MNEXT, top1=67.7),
    "mobilenext_075": Reference(2_766_168, 207.9, _MNEXT, top1=72.0),
    "mobilenext_100": Reference(3_535_416, 311.3, _MNEXT, top1=74.02),
    "mobilenext_140": Reference(6_126_168, 588.3, _MNEXT, top1=76.1),
    # ShuffleNet 1x, paper Table 2 (MFLOPs, top-1 error).
    "shufflenet_v1_g1_100": Reference(None, 143, "arXiv 1707.01083 Table 2", False, 100 - 33.6),
    "shufflenet_v1_g2_100": Reference(None, 140, "arXiv 1707.01083 Table 2", False, 100 - 32.7),
    "shufflenet_v1_g4_100": Reference(None, 133, "arXiv 1707.01083 Table 2", False, 100 - 32.8),
    "shufflenet_v1_g3_050": Reference(717_324, 37.6, _MEGVII, top1=100 - 43.2),
    "shufflenet_v1_g8_050": Reference(1_010_448, 40.5, _MEGVII, top1=100 - 42.3),
    "shufflenet_v1_g3_100": Reference(1_864_728, 137.5, _MEGVII, top1=100 - 32.6),
    "shufflenet_v1_g8_100": Reference(2_433_768, 138.4, _MEGVII, top1=100 - 32.4),
    "shufflenet_v1_g3_150": Reference(3_441_168, 292.4, _MEGVII, top1=100 - 28.5),
    "shufflenet_v1_g8_150": Reference(4_268_952, 290.2, _MEGVII),
    "shufflenet_v1_g3_200": Reference(5_449_776, 524.0, _MEGVII, top1=100 - 26.3),
    "shufflenet_v1_g8_200": Reference(6_521_232, 521.9, _MEGVII),
    "shufflenet_v2_050": Reference(1_366_792, 40.5, _TV, top1=100 - 39.7),
    "shufflenet_v2_100": Reference(2_278_604, 144.9, _TV, top1=100 - 30.6),
    "shufflenet_v2_150": Reference(3_503_624, 295.8, _TV, top1=100 - 27.4),
    "shufflenet_v2_200": Reference(7_393_996, 583.3, _TV, top1=100 - 25.1),
    "squeezenet_10": Reference(1_248_424, 818.9, _TV, top1=57.5),
    "squeezenet_11": Reference(1_235_496, 349.2, _TV, top1=58.2),
    "mobilenet_v3_large_075": Reference(3_993_528, 154.6, _TIMM, top1=73.3),
    "mobilenet_v3_large_100": Reference(5_483_032, 216.6, "torchvision / timm", top1=75.2),
    "mobilenet_v3_small_075": Reference(2_041_872, 43.4, _TIMM, top1=65.4),
    "mobilenet_v3_small_100": Reference(2_542_856, 56.5, "torchvision / timm", top1=67.4),
    "mobilenet_v3_large_minimal_100": Reference(3_924_288, 209.1, _TIMM, top1=72.3),
    "mobilenet_v3_small_minimal_100": Reference(2_044_736, 52.3, _TIMM, top1=61.9),
    # EfficientNet-Lite at its own input size (240, 260, 300, 380 from Lite1 on).
    "efficientnet_lite0": Reference(4_652_008, 385.2, _TIMM, top1=75.1),
    "efficientnet_lite1": Reference(5_416_680, 600.2, _TIMM, top1=76.7),
    "efficientnet_lite2": Reference(6_092_072, 859.7, _TIMM, top1=77.6),
    "efficientnet_lite3": Reference(8_197_096, 1607.6, _TIMM, top1=79.8),
    "efficientnet_lite4": Reference(13_006_568, 3943.6, _TIMM, top1=81.5),
    # MobileNetV4-Conv at its own input size (Medium 256, Large 384).
    "mobilenet_v4_conv_small": Reference(3_774_024, 186.0, _TIMM, top1=73.8),
    "mobilenet_v4_conv_medium": Reference(9_715_512, 1080.2, _TIMM, top1=79.9),
    "mobilenet_v4_conv_large": Reference(32_590_864, 6376.2, _TIMM, top1=82.9),
    "ghostnet_100": Reference(5_182_508, 141.2, _TIMM, top1=73.9),
    "mnasnet_050": Reference(2_218_512, 104.5, _TV, top1=67.7),
    "mnasnet_100": Reference(4_383_312, 314.4, "torchvision / timm", top1=73.5),
    "mobilefacenet": Reference(990_000, 221, "arXiv 1804.07573", exact=False),
    # ThunderNet names its backbones by MFLOPs; channel tables from reimplementations.
    "snet_49": Reference(None, 49, "arXiv 1903.11752 (name)", exact=False),
    "snet_146": Reference(None, 146, "arXiv 1903.11752 (name)", exact=False),
    "snet_535": Reference(None, 535, "arXiv 1903.11752 (name)", exact=False),
}
