"""The full-width ResNet50 end to end (slow: run with -m slow)."""

import pytest

from sbn.energy import config_layer_table, estimate_energy, layer_table, resolve_preset
from sbn.energy.firing import measure_on_dataset
from sbn.models import ModelConfig, build_model

pytestmark = pytest.mark.slow


def test_full_width_measured_on_digits():
    model = build_model(ModelConfig()).eval()
    table = layer_table(model)
    assert table == config_layer_table(ModelConfig())
    rates = measure_on_dataset(model, "digits", samples=8, batch_size=4)
    assert rates.samples == 8 and rates.time_steps == 4
    assert all(0.0 <= r <= 1.0 for r in rates.rates.values())
    p45 = resolve_preset("45nm")
    report = estimate_energy(table, rates, [p45, resolve_preset("rolls")], p45)
    rb16 = report.split("RB16")
    assert rb16.macs == 1178599424
    assert rb16.syops == pytest.approx(sum(rates.rate(le.name) * 4 * le.macs for le in rb16.layers))
