"""The bits table against hand-computed values, its file formats and its errors."""

import csv
import io
import json
import math
from pathlib import Path

import pytest

from sbn.energy.bits import (
    arch_config,
    bits_row,
    from_dict,
    load_bits_config,
    parse_bits_config,
    render,
    to_dict,
    uniform_table,
    write_bits,
)
from sbn.errors import ConfigError

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def expected():
    return json.loads((FIXTURES / "bits_expected.json").read_text())["rows"]


def _check(row: dict, exp: dict) -> None:
    for key in ("split", "raw_bits", "spikebottlenet_bits", "bottlenet_pp_bits"):
        assert row[key] == exp[key], key
    for key in ("compression_ratio", "reduction_vs_baseline_pct"):
        assert row[key] == pytest.approx(exp[key]), key


def test_fixture_arithmetic_is_self_consistent(expected):
    for exp in expected:
        for key, field in (("raw", "raw_bits"), ("snn", "spikebottlenet_bits"), ("bpp", "bottlenet_pp_bits")):
            product, value = exp[key].split("=")
            assert math.prod(int(f) for f in product.split("*")) == int(value) == exp[field]


def test_whole_table_from_config_file(expected):
    config, rows = load_bits_config(FIXTURES / "bits_table.toml")
    assert config.time_steps == 4
    assert len(rows) == len(expected)
    data = to_dict(rows)
    for row, exp in zip(data["rows"], expected):
        _check(row, exp)
    assert data["rows"][2]["time_steps"] == 2 and data["rows"][3]["stride"] == 2


def test_single_row_is_the_headline():
    p = bits_row(arch_config(time_steps=4), "RB16", 32, 2)
    assert (p.raw_bits, p.spiking_bits, p.baseline_bits) == (131072, 512, 1024)
    assert p.compression_ratio == 256 and p.reduction_vs_baseline == 50.0


def test_uniform_table_covers_every_split():
    rows = uniform_table(arch_config(time_steps=2), channels=64, stride=1)
    assert [p.split for p in rows] == [f"RB{k}" for k in range(1, 17)]
    # T = 2 against 8 bits: always 1 - 2/8 = 75 % fewer bits than BottleNet++
    assert all(p.reduction_vs_baseline == 75.0 for p in rows)
    # RB8: raw 1024*8*8*2 = 131072, sent 64*8*8*2 = 8192
    assert (rows[7].raw_bits, rows[7].spiking_bits) == (131072, 8192)


def test_formats_round_trip(tmp_path):
    _, rows = load_bits_config(FIXTURES / "bits_table.toml")
    write_bits(tmp_path / "b.json", rows, "json", {"arch": "resnet50"})
    data = json.loads((tmp_path / "b.json").read_text())
    assert data["schema"] == "sbn.bits/2" and from_dict(data) == rows
    text = render(rows, "csv")
    assert text.startswith("# sbn.bits/2")
    parsed = list(csv.DictReader(io.StringIO(text.split("\n", 1)[1])))
    assert parsed[3]["payload_shape"] == "32x2x2" and int(parsed[3]["spikebottlenet_bits"]) == 512
    assert "| RB16 | 2048x4x4 | 32x2x2 |" in render(rows, "md")
    with pytest.raises(ConfigError, match="schema 'sbn.bits/0'"):
        from_dict({**data, "schema": "sbn.bits/0"})


@pytest.mark.parametrize(
    "data, message",
    [
        ({"splits": [{"split": "RB1", "channels": 8}]}, "key 'schema' is None; this sbn reads a bits config"),
        ({"schema": "sbn.bits-config/1"}, r"no \[\[splits\]\] entries"),
        (
            {"schema": "sbn.bits-config/1", "splits": [{"split": "RB17", "channels": 8}]},
            "unknown split 'RB17': valid splits are RB1..RB16",
        ),
        ({"schema": "sbn.bits-config/1", "splits": [{"split": "RB1"}]}, "needs split and channels"),
        (
            {"schema": "sbn.bits-config/1", "splits": [{"split": "RB16", "channels": 8, "stride": 3}]},
            "stride 3 does not divide the 4x4 map",
        ),
        (
            {
                "schema": "sbn.bits-config/1",
                "model": {"arch": "vgg16"},
                "splits": [{"split": "RB1", "channels": 8}],
            },
            "unknown architecture 'vgg16'",
        ),
        (
            {
                "schema": "sbn.bits-config/1",
                "model": {"depth": 3},
                "splits": [{"split": "RB1", "channels": 8}],
            },
            r"\[model\] may hold only",
        ),
    ],
)
def test_malformed_bits_configs(data, message):
    with pytest.raises(ConfigError, match=message):
        parse_bits_config(data, where="t.toml")


def test_bad_bits_config_file(tmp_path):
    (tmp_path / "b.toml").write_text("schema = ")
    with pytest.raises(ConfigError, match="not valid (TOML|JSON)"):
        load_bits_config(tmp_path / "b.toml")
