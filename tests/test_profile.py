"""lite-tf profile: table, JSON and errors."""

import json
import subprocess
import sys

from lite_tf import commands
from lite_tf.models import profile


def test_json_output(capsys):
    assert commands.run("profile", ["mobilenext_100", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["trainable_params"] == 3_535_416
    assert result["total_params"] > result["trainable_params"]  # BatchNorm moving statistics
    assert abs(result["macs"] / 311.3e6 - 1) < 0.03
    assert sum(layer["macs"] for layer in result["layers"]) == result["macs"]
    dw = next(l for l in result["layers"] if l["name"] == "s3b2_dw1")
    assert dw["macs"] == 28 * 28 * 192 * 9 and dw["output_shape"] == [28, 28, 192]
    assert result["reference"]["params_ratio"] == 1.0


def test_table_with_reference_row(capsys):
    assert commands.run("profile", ["shufflenet_v1_g3_100"]) == 0
    out = capsys.readouterr().out
    assert "s1b1_gconv1" in out
    assert "1,864,728 trainable params" in out
    assert "reference (megvii ShuffleNetV1 (network.py)): params 1,864,728 (+0.00%)" in out


def test_width_and_input_size_drop_the_reference(capsys):
    assert commands.run("profile", ["mobilenet_v2_100", "--input-size", "160", "--width", "0.75", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["input_shape"] == [160, 160, 3] and "reference" not in result
    assert result["trainable_params"] == 2_636_424  # parameters do not depend on input size


def test_grouped_conv_macs():
    result = profile.profile("shufflenet_v1_g8_100")
    conv = next(l for l in result["layers"] if l["name"] == "s2b2_gconv1")  # 768 -> 192, 8 groups
    assert conv["macs"] == 14 * 14 * 192 * 768 // 8


def test_bad_input_exits_2_with_one_line():
    proc = subprocess.run([sys.executable, "-m", "lite_tf", "profile", "mobilenetv2"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == ["lite-tf profile: error: unknown model 'mobilenetv2'; "
                      "closest: mobilenet_v2_035, mobilenet_v2_050, mobilenet_v2_075, "
                      "mobilenet_v2_100, mobilenet_v2_140"]
