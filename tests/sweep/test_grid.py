"""The design space: trial ids, where strides go, parsing, sweep files, the plan."""

import json

import pytest

from sbn.errors import CheckpointError, ConfigError
from sbn.sweep import Grid, SweepPlan, TrialSpec, make_sweep_plan, parse_ints, parse_splits
from sbn.sweep.gridfile import load_grid_file, parse_grid
from sbn.train import TrainSettings

QUICK = TrainSettings(epochs=1, train_samples=64, test_samples=32)


def test_trial_ids_are_deterministic_and_round_trip():
    spec = TrialSpec(split=7, channels=8, stride=1, time_steps=2)
    assert spec.id == "RB7-c8-s1-T2"
    assert TrialSpec.from_id(spec.id) == spec
    assert spec.bottleneck(5).kernel_size == 5 and spec.bottleneck().split_name == "RB7"
    with pytest.raises(ConfigError, match="not a trial id"):
        TrialSpec.from_id("RB7-c8")


def test_strides_only_after_the_last_block_by_default():
    grid = Grid(splits=(16, 1), channels=(8, 4), strides=(2, 1), time_steps=(4, 2))
    ids = [t.id for t in grid.trials(16)]
    assert ids == [
        "RB1-c4-s1-T2",
        "RB1-c4-s1-T4",
        "RB1-c8-s1-T2",
        "RB1-c8-s1-T4",
        "RB16-c4-s1-T2",
        "RB16-c4-s1-T4",
        "RB16-c4-s2-T2",
        "RB16-c4-s2-T4",
        "RB16-c8-s1-T2",
        "RB16-c8-s1-T4",
        "RB16-c8-s2-T2",
        "RB16-c8-s2-T4",
    ]
    everywhere = Grid(splits=(1, 16), channels=(8,), strides=(1, 2), time_steps=(2,), strides_everywhere=True)
    assert len(everywhere.trials(16)) == 4
    # the reduced model's last block is RB4: that is where strides go
    assert [t.id for t in Grid((4,), (4,), (2,), (2,)).trials(4)] == ["RB4-c4-s2-T2"]


def test_split_without_trials_and_unknown_split():
    with pytest.raises(ConfigError, match=r"RB1 has no trials: strides \[2\] > 1 are tried only at RB16"):
        Grid(splits=(1, 16), channels=(8,), strides=(2,)).trials(16)
    with pytest.raises(ConfigError, match="valid splits are RB1..RB4"):
        Grid(splits=(7,), channels=(8,)).trials(4)


def test_parsing_axes():
    assert parse_splits("all", 4) == (1, 2, 3, 4)
    assert parse_splits("RB1, rb7,16", 16) == (1, 7, 16)
    assert parse_splits(["RB2", 3], 4) == (2, 3)
    assert parse_ints("4, 8,16", "channels") == (4, 8, 16)
    with pytest.raises(ConfigError, match="channels must be comma-separated integers, got '4,x'"):
        parse_ints("4,x", "channels")
    with pytest.raises(ConfigError, match="unknown split 'RB17'"):
        parse_splits("RB17", 16)
    with pytest.raises(ConfigError, match="channels must be integers >= 1, got 0"):
        Grid(splits=(1,), channels=(0,))
    grown = Grid((1,), (4,), (1,), (2,)).union(Grid((4,), (4, 8), (1, 2), (2,)))
    assert (grown.splits, grown.channels, grown.strides) == ((1, 4), (4, 8), (1, 2))


def test_sweep_file_toml_and_json(tmp_path):
    toml = tmp_path / "grid.toml"
    toml.write_text(
        'schema = "sbn.sweep-grid/1"\nbackbone = "b.safetensors"\n'
        'splits = ["RB1", "RB4"]\nchannels = [4, 8]\nT = [2]\n'
        '[train]\nepochs = 2\ntrain_samples = 64\n[selection]\nbudget = 2.5\n'
    )
    values = load_grid_file(toml)
    assert values == {
        "backbone": tmp_path / "b.safetensors",
        "splits": ["RB1", "RB4"],
        "channels": [4, 8],
        "time_steps": [2],
        "epochs": 2,
        "train_samples": 64,
        "budget": 2.5,
    }
    as_json = tmp_path / "grid.json"
    as_json.write_text(json.dumps({"schema": "sbn.sweep-grid/1", "splits": "all", "channels": [4]}))
    assert load_grid_file(as_json) == {"splits": "all", "channels": [4]}


@pytest.mark.parametrize(
    "data, message",
    [
        ({"splits": "all"}, "key 'schema' is None; this sbn reads a sweep file"),
        ({"schema": "sbn.sweep-grid/1", "split": "all"}, "unknown key 'split'"),
        ({"schema": "sbn.sweep-grid/1", "train": {"epoch": 2}}, r"\[train\] has unknown key 'epoch'"),
        ({"schema": "sbn.sweep-grid/1", "T": [2], "time_steps": [4]}, "give T or time_steps"),
    ],
)
def test_sweep_file_errors(data, message):
    with pytest.raises(ConfigError, match=message):
        parse_grid(data)


def test_unreadable_sweep_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("splits = [")
    with pytest.raises(ConfigError, match="bad.toml: not valid TOML"):
        load_grid_file(bad)
    with pytest.raises(ConfigError, match="cannot read a sweep file"):
        load_grid_file(tmp_path / "missing.toml")


def test_plan_from_backbone_and_round_trip(backbone):
    plan = make_sweep_plan(backbone, splits="all", channels="4,8", strides="1,2", time_steps="2", train=QUICK)
    assert plan.num_blocks == 4 and plan.grid.splits == (1, 2, 3, 4)
    assert len(plan.grid.trials(4)) == 4 * 2 + 2  # stride 2 only at RB4
    assert SweepPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan
    other = SweepPlan.from_dict({**plan.to_dict(), "train": {**QUICK.to_dict(), "lr": 0.1}})
    assert plan.changed(other) == ["lr"]
    with pytest.raises(ConfigError, match="T must be in 1..8"):
        make_sweep_plan(backbone, splits="RB1", channels="4", time_steps="9", train=QUICK)
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        make_sweep_plan(backbone.parent / "none.safetensors", splits="RB1", channels="4", train=QUICK)
    with pytest.raises(ConfigError, match="malformed sweep plan"):
        SweepPlan.from_dict({"backbone": "x"})
    assert TrainSettings.from_dict(plan.to_dict()["train"]) == QUICK
