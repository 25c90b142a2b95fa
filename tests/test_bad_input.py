"""Bad input, one kind per row, as a new user types it: each command exits 2 with exactly this one
line on stderr, before any work, and leaves the folder it ran in byte-identical. (More kinds
live beside the code they exercise: test_settings, test_flags, test_trust, test_readers,
test_faults.)"""

import pytest

from conftest import one_error_line, run_command, snapshot

QUICKSTART = ["train", "--config", "quickstart"]


def bind(*bindings):
    return [*QUICKSTART, *[a for b in bindings for a in ("--gin_bindings", b)]]


# (kind, lite-tf arguments, the error line after "lite-tf COMMAND: error: ")
UNKNOWN_PASS = ("unknown export pass 'fold_everything'; the passes: prelu_as_depthwise, "
                "hard_swish_as_multiply, average_pool_as_depthwise, large_depthwise_in_bands, "
                "strided_stem_as_space_to_depth, small_groups_merged, partial_identity_in_two, "
                "route_channels, route_channels_dense")
BAD = [
    ("zero width multiplier", ["profile", "mobilenet_v2_100", "--width", "0"],
     "argument --width: must be > 0, got '0'"),
    ("infinite width multiplier", ["profile", "mobilenet_v2_100", "--width=-inf"],
     "argument --width: must be > 0, got '-inf'"),
    ("zero input size", ["profile", "mobilenet_v2_100", "--input-size", "0"],
     "argument --input-size: must be >= 1, got '0'"),
    ("input size not a number", ["profile", "mobilenet_v2_100", "--input-size", "two"],
     "argument --input-size: expected an integer, got 'two'"),
    ("latency table without --latency", ["profile", "mobilenet_v2_100", "--table", "t.json"],
     "--by, --threads and --table apply to --latency only"),
    ("zero latency threads", ["profile", "mobilenet_v2_100", "--latency", "--threads", "0"],
     "argument --threads: must be >= 1, got '0'"),
    ("unknown export pass", ["export", "--no-pass", "fold_everything"], UNKNOWN_PASS),
    ("unknown added export pass", ["export", "--pass", "fold_everything"], UNKNOWN_PASS),
    ("a pass added and left out", ["export", "--pass", "small_groups_merged", "--no-pass",
                                   "small_groups_merged"],
     "--pass and --no-pass both name small_groups_merged"),
    ("no calibration images", ["export", "--calibration-samples", "0"],
     "argument --calibration-samples: must be >= 1, got '0'"),
    ("negative evaluation images", ["export", "--eval-samples=-1"],
     "argument --eval-samples: must be >= 1, got '-1'"),
    ("negative device samples", ["export", "--device-samples=-1"],
     "argument --device-samples: must be >= 0, got '-1'"),
    ("no layers kept in float", ["export", "--keep-float", "0"],
     "argument --keep-float: must be 'auto' or a number of layers >= 1, got '0'"),
    ("float layers in a float16 export", ["export", "--float16", "--keep-float", "auto"],
     "--keep-float applies to --int8 only, not --float16"),
    ("per-tensor scales in a float16 export", ["export", "--float16", "--per-tensor"],
     "--per-tensor applies to --int8 only, not --float16"),
    ("int16x8 and int8 at once", ["export", "--int16x8", "--int8"],
     "argument --int8: not allowed with argument --int16x8"),
    ("unknown I/O type", ["export", "--io", "int16"],
     "argument --io: invalid choice: 'int16' (choose from 'int8', 'uint8', 'float32')"),
    ("unknown input scaling", ["export", "--model", "m.keras", "--dataset", "sklearn_digits",
                               "--preprocessing", "caffe"],
     "argument --preprocessing: invalid choice: 'caffe' (choose from 'bgr', 'tf', 'torch')"),
    ("negative warm-up", ["bench", "m.tflite", "--warmup=-1"],
     "argument --warmup: must be >= 0, got '-1'"),
    ("empty thread count in a list", ["bench", "m.tflite", "--threads", "1,,2"],
     "argument --threads: expected an integer list like 1,2,4, got '1,,2'"),
    ("fractional run count", ["bench", "m.tflite", "--runs", "2.5"],
     "argument --runs: expected an integer, got '2.5'"),
    ("control character in a value", ["bench", "m.tflite", "--threads", "1\x1e2"],
     "argument --threads: expected an integer list like 1,2,4, got '1\\x1e2'"),
    ("a flag without its value", ["bench", "m.tflite", "--out"], "argument --out: expected one argument"),
    ("NaN timeout", ["phone", "m.tflite", "--timeout", "nan"],
     "argument --timeout: must be > 0, got 'nan'"),
    ("unknown delegate", ["phone", "m.tflite", "--delegates", "npu"],
     "argument --delegates: must be one of xnnpack, cpu, gpu (did you mean 'gpu'?), got 'npu'"),
    ("zero phone threads", ["phone", "m.tflite", "--threads", "0"],
     "argument --threads: must be >= 1, got '0'"),
    ("negative report runs", ["report", "run", "--runs", "-3"], "argument --runs: must be >= 1, got '-3'"),
    ("negative input size setting", bind("train.image_size = -32"),
     "train.image_size must be >= 1, got -32"),
    ("negative weight decay", bind("train.weight_decay = -1e-4"),
     "train.weight_decay must be >= 0, got -0.0001"),
    ("negative warm-up epochs", bind("train.warmup_epochs = -1"),
     "train.warmup_epochs must be >= 0, got -1"),
    ("seed not a number", bind("train.seed = 'x'"), "train.seed must be an integer, got 'x'"),
    ("dataset not a name", bind("train.dataset = 3"), "train.dataset must be a string, got 3"),
    ("zero gradient clipping", bind("train.clipnorm = 0.0"), "train.clipnorm must be > 0, got 0.0"),
    ("epochs in float notation", bind("train.epochs = 1e9"),
     "train.epochs must be an integer, got 1000000000.0"),
    ("misspelled stage", bind("train.compress = 'qta'"),
     "train.compress must be one of channel_prune, cluster, cqat, distill, low_rank, lowbit, none, "
     "pcqat, pqat, prune, qat (did you mean "
     "'qat'?), got 'qta'"),
    ("sparsity above 1", bind("train.compress = 'prune'", "prune.Pruning.target = 1.5"),
     "prune.Pruning.target must be in [0, 1), got 1.5"),
    ("weights of 3 bits", bind("train.compress = 'lowbit'", "lowbit.LowBitWeights.bits = 3"),
     "lowbit.LowBitWeights.bits must be one of 1, 2, 4, 8, got 3"),
    ("ternary weights of 4 bits", bind("train.compress = 'lowbit'", "lowbit.LowBitWeights.ternary = True"),
     "lowbit.LowBitWeights.ternary needs bits = 2 (three values), got bits = 4"),
    ("one cluster", bind("train.compress = 'cluster'", "cluster.Clustering.clusters = 1"),
     "cluster.Clustering.clusters must be >= 2, got 1"),
    ("zero pruning block", bind("train.compress = 'prune'", "prune.Pruning.block = 0"),
     "prune.Pruning.block must be >= 1, got 0"),
    ("zero distillation temperature", bind("train.compress = 'distill'",
                                           "distill.Distillation.teacher = 'x'",
                                           "distill.Distillation.temperature = 0.0"),
     "distill.Distillation.temperature must be > 0, got 0.0"),
    ("MACs target above 1", bind("train.compress = 'channel_prune'",
                                 "channel_prune.ChannelPruning.target_macs = 1.2"),
     "channel_prune.ChannelPruning.target_macs must be in (0, 1], got 1.2"),
    ("low-rank MACs target of 1 or more", bind("train.compress = 'low_rank'",
                                               "low_rank.LowRank.target_macs = 1.2"),
     "low_rank.LowRank.target_macs must be in (0, 1), got 1.2"),
    ("unknown channel criterion", bind("train.compress = 'channel_prune'",
                                       "channel_prune.ChannelPruning.criterion = 'l3'"),
     "channel_prune.ChannelPruning.criterion must be one of l1, bn, apoz, lasso, got 'l3'"),
    ("erasing probability above 1", bind("data.Augment.erasing = 2.0"),
     "data.Augment.erasing must be in [0, 1], got 2.0"),
    ("negative mixup", bind("data.Augment.mixup = -0.2"),
     "data.Augment.mixup must be >= 0, got -0.2"),
    ("crop scale range reversed", bind("data.Augment.scale = (0.5, 0.1)"),
     "data.Augment.scale must be a pair (a, b) with 0 < a <= b <= 1, got (0.5, 0.1)"),
    ("misspelled crop", bind("data.Augment.crop = 'pads'"),
     "data.Augment.crop must be one of resized, pad (did you mean 'pad'?), got 'pads'"),
    ("flip as a number", bind("data.Augment.flip = 1"),
     "data.Augment.flip must be True or False, got 1"),
    ("missing checkpoint file", ["weights", "import", "mobilenet_v2_100", "missing.pth"],
     "no checkpoint at missing.pth"),
]


@pytest.mark.parametrize("argv,says", [pytest.param(a, s, id=k) for k, a, s in BAD])
def test_bad_input_is_this_one_line_exit_2_and_writes_nothing(argv, says, tmp_path):
    before = snapshot(tmp_path)
    proc = run_command(argv[0], argv[1:], f"lite-tf {argv[0]}", tmp_path)
    assert one_error_line(proc, f"lite-tf {argv[0]}") == f"lite-tf {argv[0]}: error: {says}"
    assert snapshot(tmp_path) == before


def test_the_kinds_are_distinct():
    assert len({k for k, _, _ in BAD}) == len(BAD) and len({tuple(a) for _, a, _ in BAD}) == len(BAD)
