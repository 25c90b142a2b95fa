"""Structured channel pruning: which channels can go, and the thin model computes what the wide one
computes when the removed channels contribute nothing (every family)."""

import numpy as np
import pytest

from conftest import one_per_family, randomized
from lite_tf.compression import channel_criteria as criteria
from lite_tf.compression import channel_prune as cp
from lite_tf.errors import InputError
from lite_tf.models import create_model, get_entry
from lite_tf.models.profile import profile_model

NO_PRUNABLE_CHANNELS = {"shufflenet_v1"}  # every 1x1 conv is grouped and feeds a shuffle or a concat


# GhostNet: its ghost modules concatenate each 1x1 conv's maps with their depthwise "ghosts", and
# the channel groups stop at a concatenation, so only the SE and shortcut convs thin (about 5% of
# the MACs). Known gap, kept visible: strict, so the test says when concat-aware groups land.
CONCAT_LIMITED = {"ghostnet_100"}


# The slowest four (6-8 s each) run in the slow suite.
SLOW_TO_THIN = {"mobilenext_035", "mnasnet_050", "mobilefacenet", "efficientnet_lite0"}


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(strict=True, reason="groups stop at ghost modules' concat"))
    if n in CONCAT_LIMITED else pytest.param(n, marks=pytest.mark.slow) if n in SLOW_TO_THIN else n
    for n in one_per_family()])
def test_thin_model_computes_what_the_wide_one_does_without_the_removed_channels(name, rng):
    model = randomized(name, rng, 64)
    if get_entry(name).family in NO_PRUNABLE_CHANNELS:
        with pytest.raises(InputError, match="has no channels that can be pruned"):
            cp.plan(model, cp.ChannelPruning())
        return
    groups = cp.groups(model)
    kept = cp.plan(model, cp.ChannelPruning(ratio=0.5))
    for group in groups:  # the removed channels now contribute nothing downstream
        removed = np.setdiff1d(np.arange(group.channels), kept[group.producer])
        assert len(kept[group.producer]) % 8 == 0 and len(removed) > 0 or group.channels <= 8
        for consumer in group.consumers:
            weights = model.get_layer(consumer).get_weights()
            weights[0][:, :, removed, :] = 0
            model.get_layer(consumer).set_weights(weights)
    thin = cp.prune_channels(model, kept)
    x = rng.uniform(-1, 1, (2, *model.input_shape[1:])).astype("float32")
    want, got = model(x).numpy(), thin(x).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    assert profile_model(thin)["macs"] < 0.85 * profile_model(model)["macs"]
    # The thin architecture is a zoo model with channel overrides: what a run records.
    rebuilt = create_model(name, num_classes=10, input_shape=model.input_shape[1:],
                           classifier_activation=None, channels=cp.channels(thin))
    assert [w.shape for w in rebuilt.weights] == [w.shape for w in thin.weights]


def test_groups_stop_at_adds_concats_and_gates():
    """MobileNetV2: the expansion channels and the stem are prunable, the block outputs that feed
    residual adds are not; MobileNeXt+SE: hidden channels yes, SE-gated outputs no."""
    groups = {g.producer: g for g in cp.groups(create_model("mobilenet_v2_100"))}
    assert "s3b2_expand" in groups and groups["s3b2_expand"].consumers == ["s3b2_project"]
    assert {"s3b2_dw", "s3b2_dw_bn", "s3b2_expand_bn"} <= set(groups["s3b2_expand"].members)
    assert "s3b2_project" not in groups and "s3b1_project" not in groups  # residual adds
    assert "head_conv" not in groups  # feeds the pooled classifier
    squeeze = {g.producer: g for g in cp.groups(create_model("squeezenet_11"))}
    assert squeeze["fire2_squeeze"].consumers == ["fire2_expand1x1", "fire2_expand3x3"]
    assert "fire2_expand1x1" not in squeeze  # concatenated


def test_squeeze_excite_gates_are_pruned_with_the_channels_they_gate():
    """MobileNetV3: an SE block's expand conv makes the gate multiplied into the block's expanded
    channels, so it is tied to their group; the SE reduce conv reads them."""
    groups = {g.producer: g for g in cp.groups(create_model("mobilenet_v3_small_100"))}
    group = groups["s3b2_expand"]
    assert group.tied == ["s3b2_se_expand"]
    assert group.consumers == ["s3b2_project", "s3b2_se_reduce"]
    assert {"s3b2_se_pool", "s3b2_se_scale", "s3b2_se_gate"} <= set(group.members)
    assert "s3b2_se_expand" not in groups  # tied, not a group of its own
    assert "s3b2_se_reduce" in groups  # the squeezed channels: read by the expand conv only


@pytest.mark.slow  # 20 s; the default suite is full (the thin-model tests stay)
def test_target_macs_is_reached_and_scores_pick_the_weakest_filters(rng):
    model = randomized("mobilenet_v2_100", rng, size=32)
    full = profile_model(model)["macs"]
    kept = cp.plan(model, cp.ChannelPruning(target_macs=0.6))
    assert 0.55 * full <= cp.macs_of(model, kept) <= 0.6 * full
    group = next(g for g in cp.groups(model) if g.producer == "s3b2_expand")
    for criterion in ("l1", "bn"):
        scores = criteria.scores(model, group, criterion)
        keep = cp.plan(model, cp.ChannelPruning(criterion=criterion, ratio=0.5))["s3b2_expand"]
        dropped = np.setdiff1d(np.arange(group.channels), keep)
        assert scores[keep].min() >= scores[dropped].max()
    with pytest.raises(InputError, match="ratio must be in"):
        cp.plan(model, cp.ChannelPruning(ratio=1.0))
