"""Energy arithmetic per preset, per layer and cumulative per split point."""

import json
from pathlib import Path

import pytest

from sbn.energy import (
    CostPreset,
    FiringRates,
    Layer,
    LayerTable,
    config_layer_table,
    estimate_energy,
    resolve_preset,
)
from sbn.errors import ConfigError
from sbn.models import ModelConfig

FIXTURES = Path(__file__).parent / "fixtures"
P45, ROLLS, LOIHI = (resolve_preset(n) for n in ("45nm", "rolls", "loihi2"))


def tiny_table() -> LayerTable:
    # macs: 10*10*1*1*10*10 = 10000 and 10*10*3*3*10*10 = 90000
    return LayerTable(
        (
            Layer("blocks.0.conv1", 1, (10, 10, 10), (10, 10, 10), (1, 1)),
            Layer("blocks.1.conv2", 2, (10, 10, 10), (10, 10, 10), (3, 3)),
        ),
        num_blocks=2,
        time_steps=4,
    )


def test_energy_arithmetic_per_preset():
    rates = FiringRates.from_mapping({"blocks.0.conv1": 0.25, "blocks.1.conv2": 0.1}, 4)
    report = estimate_energy(tiny_table(), rates, [P45, ROLLS, LOIHI], P45)
    rb1, rb2 = report.splits
    l1, l2 = rb2.layers
    assert (l1.macs, l2.macs) == (10000, 90000)
    # SyOPs = fr * T * MACs: 0.25 * 4 * 10000 = 10000; 0.1 * 4 * 90000 = 36000
    assert l1.syops == pytest.approx(10000) and l2.syops == pytest.approx(36000)
    # layer 1: ANN 10000 * 4.6 pJ = 46000 pJ = 4.6e-5 mJ; SNN 10000 * 0.9 pJ = 9e-6 mJ,
    # ROLLS 10000 * 0.077 pJ = 7.7e-7 mJ, Loihi 10000 * 23.6 pJ = 2.36e-4 mJ
    assert l1.ann_mj == pytest.approx(4.6e-5)
    assert l1.snn_mj == pytest.approx({"45nm": 9e-6, "rolls": 7.7e-7, "loihi2": 2.36e-4})
    # split RB2 = both layers: ANN 100000 * 4.6 pJ = 4.6e-4 mJ; SNN 46000 SyOPs
    assert rb2.macs == 100000 and rb2.syops == pytest.approx(46000)
    assert rb2.ann_mj == pytest.approx(4.6e-4)
    assert rb2.snn_mj == pytest.approx({"45nm": 4.14e-5, "rolls": 3.542e-6, "loihi2": 1.0856e-3})
    assert rb2.ratio("45nm") == pytest.approx(4.6e-4 / 4.14e-5)
    assert rb1.ann_mj == pytest.approx(4.6e-5) and rb1.layers == (l1,)
    assert report.split("RB2") is rb2 and report.split(1) is rb1


def test_user_preset_prices_both_models():
    chip = CostPreset("chip", e_syop_pj=2.0, e_mac_pj=10.0)
    rates = FiringRates.uniform(tiny_table(), 0.5)
    report = estimate_energy(tiny_table(), rates, [chip], chip)
    rb2 = report.splits[-1]
    # ANN 100000 * 10 pJ = 1e-3 mJ; SNN 0.5 * 4 * 100000 * 2 pJ = 4e-4 mJ
    assert rb2.ann_mj == pytest.approx(1e-3) and rb2.snn_mj["chip"] == pytest.approx(4e-4)


def test_resnet50_baseline_needs_no_rates():
    reference = json.loads((FIXTURES / "resnet50_macs.json").read_text())["ann_energy_45nm"]
    report = estimate_energy(config_layer_table(ModelConfig()), None, [P45, ROLLS], P45)
    assert len(report.splits) == 16 and not report.has_rates
    assert report.split(reference["split"]).ann_mj == pytest.approx(reference["mj"], rel=1e-12)
    for s in report.splits:
        assert s.snn_mj is None and s.syops is None and s.ratio("45nm") is None
        assert all(le.firing_rate is None for le in s.layers)


def test_uniform_rate_one_gives_the_constant_ratio():
    table = config_layer_table(ModelConfig())
    report = estimate_energy(table, FiringRates.uniform(table, 1.0), [P45], P45)
    # every input fires every step: SyOPs = T * MACs, ratio = 4.6 / (4 * 0.9)
    for s in report.splits:
        assert s.syops == pytest.approx(4 * s.macs)
        assert s.ratio("45nm") == pytest.approx(4.6 / 3.6)


def test_silent_model_has_no_ratio():
    report = estimate_energy(tiny_table(), FiringRates.uniform(tiny_table(), 0.0), [P45], P45)
    assert report.splits[-1].snn_mj["45nm"] == 0.0 and report.splits[-1].ratio("45nm") is None


def test_estimate_errors():
    table = tiny_table()
    with pytest.raises(ConfigError, match="no MAC energy"):
        estimate_energy(table, None, [P45], ROLLS)
    with pytest.raises(ConfigError, match="no SyOP energy"):
        estimate_energy(table, None, [CostPreset("macs_only", e_mac_pj=1.0)], P45)
    with pytest.raises(ConfigError, match="listed twice"):
        estimate_energy(table, None, [P45, P45], P45)
    with pytest.raises(ConfigError, match="miss 1 counted layers"):  # a gap before RB2's rate
        estimate_energy(table, FiringRates.from_mapping({"blocks.1.conv2": 0.1}, 4), [P45], P45)
    # rates measured on a device graph cut after RB1: the energy of split RB1 alone
    device = estimate_energy(table, FiringRates.from_mapping({"blocks.0.conv1": 0.1}, 4), [P45], P45)
    assert [s.block for s in device.splits] == [1]
    assert device.splits[0].syops == pytest.approx(0.1 * 4 * 10000)
    report = estimate_energy(table, None, [P45], P45)
    with pytest.raises(ConfigError, match="unknown split 'RB3'"):
        report.split("RB3")
