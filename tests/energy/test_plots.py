"""Figures are written, non-empty, in the format their name asks for."""

import pytest

from sbn.energy import FiringRates, config_layer_table, estimate_energy, resolve_preset
from sbn.energy.bits import arch_config, uniform_table
from sbn.energy.plots import plot_bits, plot_energy
from sbn.errors import ConfigError
from sbn.models import ModelConfig

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def table():
    return config_layer_table(ModelConfig(width=0.25))


def test_energy_plot_with_and_without_rates(tmp_path, table):
    p45, rolls = resolve_preset("45nm"), resolve_preset("rolls")
    with_rates = estimate_energy(table, FiringRates.uniform(table, 0.2), [p45, rolls], p45)
    plot_energy(with_rates, tmp_path / "e.png")
    plot_energy(estimate_energy(table, None, [p45, rolls], p45), tmp_path / "sub" / "b.svg")
    data = (tmp_path / "e.png").read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 10_000
    assert b"<svg" in (tmp_path / "sub" / "b.svg").read_bytes()
    assert not [p for p in tmp_path.rglob("*.tmp")]  # atomic: no leftovers


def test_bits_plot(tmp_path):
    plot_bits(uniform_table(arch_config(), 32, 1), tmp_path / "bits.pdf")
    assert (tmp_path / "bits.pdf").read_bytes().startswith(b"%PDF")


def test_unknown_plot_format(tmp_path, table):
    p45 = resolve_preset("45nm")
    with pytest.raises(ConfigError, match=r"end the file name in \.png, \.pdf, \.svg"):
        plot_energy(estimate_energy(table, None, [p45], p45), tmp_path / "e.gif")
    assert not (tmp_path / "e.gif").exists()
