"""Firing-rate measurement: a model whose rates are known by construction, equivalence
with an independent computation, hook hygiene, and rates from elsewhere."""

import pytest
import torch

from sbn.energy import (
    FiringRateProbe,
    FiringRates,
    config_layer_table,
    layer_table,
    load_rates,
    measure_firing_rates,
    save_rates,
)
from sbn.energy.firing import canonical_layer_name, layer_rates, node_name
from sbn.errors import ConfigError
from sbn.models import ModelConfig, build_model

ALWAYS, HALF, NEVER = 1.5, 0.8, -1.0  # constant LIF inputs (k = 0.5, V_th = 1)
# With a constant input x from rest, u[1] = x, u[2] = 0.5 u[1] + x = 1.5 x, with a hard
# reset after each spike: x = 1.5 fires every step (rate 1); x = 0.8 fires at t = 2, 4
# (u = 0.8, 1.2, reset, 0.8, 1.2: rate 1/2 over T = 4); x = -1 never fires.


def _pattern(channels: int, seed: int) -> tuple[torch.Tensor, float]:
    """Per-channel bias: the first `a` channels fire always, the next `h` half the time."""
    a = seed % channels
    h = (3 * seed + 1) % (channels - a + 1)
    bias = torch.full((channels,), NEVER)
    bias[:a] = ALWAYS
    bias[a : a + h] = HALF
    return bias, (a + 0.5 * h) / channels


def known_rate_model():
    """A small spiking ResNet50 with zero conv weights: every LIF sees its norm's bias
    only, so the spike train entering each counted layer is known exactly."""
    config = ModelConfig(width=1 / 16, num_classes=10, layers=(1, 2, 1, 1), time_steps=4)
    model = build_model(config).eval()
    expected = {}
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.weight.zero_()
        seed = 1

        def drive(norm, feeds):
            nonlocal seed
            bias, rate = _pattern(norm.num_features, seed)
            seed += 1
            norm.bias.copy_(bias)
            if feeds is not None:
                expected[feeds] = rate

        drive(model.stem[1], "blocks.0.conv1")
        n = len(model.blocks)
        for k, block in enumerate(model.blocks):
            drive(block.bn1, f"blocks.{k}.conv2")
            drive(block.bn2, f"blocks.{k}.conv3")
            drive(block.bn3, f"blocks.{k + 1}.conv1" if k + 1 < n else None)
            if block.downsample is not None:
                block.downsample[1].bias.zero_()
    return model, expected


def test_rates_known_by_construction():
    model, expected = known_rate_model()
    # every block without a projection adds its (binary) input to conv3's output, which
    # would change the sum; the construction needs a projection on every block but RB3
    assert model.blocks[2].downsample is None
    model.blocks[2].bn3.bias.data.fill_(NEVER - 1)  # input (<= 1) + bias stays < 0: silent
    expected["blocks.3.conv1"] = 0.0
    rates = measure_firing_rates(model, torch.rand(5, 3, 32, 32), batch_size=2)
    assert rates.samples == 5 and rates.time_steps == 4
    assert set(rates.rates) == set(layer_table(model).names)
    for name, rate in expected.items():
        assert rates.rate(name) == pytest.approx(rate, abs=1e-12), name
    assert len({round(r, 6) for r in expected.values()}) > 3  # the rates really differ


def _lively_model():
    torch.manual_seed(0)
    model = build_model(ModelConfig(width=1 / 16, num_classes=10, time_steps=2)).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.bias.uniform_(0.2, 1.2)  # plenty of spikes everywhere
    return model


def test_probe_equals_an_independent_count_and_ignores_batching():
    model = _lively_model()
    images = torch.rand(7, 3, 32, 32)
    captured = {}
    names = layer_table(model).names
    handles = [
        model.get_submodule(n).register_forward_pre_hook(
            lambda mod, inp, n=n: captured.setdefault(n, []).append(inp[0].clone())
        )
        for n in names
    ]
    with torch.no_grad():
        model(images)
    for h in handles:
        h.remove()
    rates = measure_firing_rates(model, images, batch_size=3)
    for name in names:
        x = torch.cat(captured[name], dim=1)  # (T, N, C, H, W)
        assert x.shape[0] == 2 and x.shape[1] == 7
        assert rates.rate(name) == pytest.approx(float(x.double().mean()), rel=1e-12)
    assert 0.05 < sum(rates.rates.values()) / len(names) < 0.95
    again = measure_firing_rates(model, images, batch_size=7)
    for name in names:
        assert again.rate(name) == pytest.approx(rates.rate(name), rel=1e-12)


def test_hooks_are_removed_and_mode_restored_even_on_error():
    model = _lively_model().train()
    convs = [model.get_submodule(n) for n in layer_table(model).names]
    measure_firing_rates(model, torch.rand(2, 3, 32, 32))
    assert model.training
    assert all(not c._forward_pre_hooks for c in convs)
    with pytest.raises(RuntimeError, match="channels"):
        measure_firing_rates(model, torch.rand(2, 5, 32, 32))  # wrong channel count
    assert all(not c._forward_pre_hooks for c in convs)
    probe = FiringRateProbe(model).attach()
    with pytest.raises(ConfigError, match="already attached"):
        probe.attach()
    probe.detach()
    with pytest.raises(ConfigError, match="no samples"):
        probe.rates()


def test_real_valued_baseline_has_no_firing_rates():
    ann = build_model(ModelConfig(kind="ann", width=1 / 16, num_classes=10)).eval()
    with pytest.raises(ConfigError, match="non-binary"):
        measure_firing_rates(ann, torch.rand(2, 3, 32, 32))


def test_bad_images():
    with pytest.raises(ConfigError, match=r"\[N, C, H, W\]"):
        measure_firing_rates(_lively_model(), torch.rand(3, 32, 32))


def test_rates_from_elsewhere_and_their_file(tmp_path):
    table = config_layer_table(ModelConfig(width=1 / 16, num_classes=10))
    lava = {f"RB{layer.block}.{layer.name[-5:]}": 0.25 for layer in table.layers}
    rates = FiringRates.from_mapping(lava, time_steps=4, source="lava")
    rates.check_covers(table)
    assert rates.rate("blocks.15.conv3") == 0.25
    assert canonical_layer_name("backbone.blocks.2.conv1") == "blocks.2.conv1"
    save_rates(tmp_path / "r.json", rates)
    assert load_rates(tmp_path / "r.json") == rates
    uniform = FiringRates.uniform(table, 0.1)
    assert uniform.time_steps == 4 and set(uniform.rates) == set(table.names)


def test_rates_errors(tmp_path):
    table = config_layer_table(ModelConfig(width=1 / 16, num_classes=10))
    with pytest.raises(ConfigError, match=r"must lie in \[0, 1\]"):
        FiringRates.uniform(table, 1.5)
    partial = FiringRates.from_mapping({"RB1.conv1": 0.1}, time_steps=4)
    with pytest.raises(ConfigError, match="miss 47 counted layers"):
        partial.check_covers(table)
    extra = FiringRates.from_mapping({**{n: 0.1 for n in table.names}, "blocks.99.conv1": 0.1}, 4)
    with pytest.raises(ConfigError, match="blocks.99.conv1"):
        extra.check_covers(table)
    (tmp_path / "old.json").write_text('{"schema": "sbn.firing-rates/0", "rates": {}}')
    with pytest.raises(
        ConfigError, match="key .schema. is .sbn.firing-rates/0.; this sbn reads firing rates"
    ):
        load_rates(tmp_path / "old.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_rates(tmp_path / "bad.json")


def test_rates_file_is_keyed_by_nir_node_name(tmp_path):
    from sbn.graph.rates import read_rates

    table = config_layer_table(ModelConfig(width=1 / 16, num_classes=10))
    rates = FiringRates.from_mapping({n: 0.125 for n in table.names}, time_steps=4, source="x")
    save_rates(tmp_path / "r.json", rates)
    data = read_rates(tmp_path / "r.json")
    assert set(data.rates) == {f"rb{k}.conv{n}" for k in range(1, 17) for n in (1, 2, 3)}
    assert data.time_steps == 4 and data.source == "x"
    assert node_name("blocks.15.conv3") == "rb16.conv3" == node_name("RB16.conv3")
    assert load_rates(tmp_path / "r.json") == rates  # back to layer keys


def test_neuron_node_keys_become_the_layers_they_feed():
    rates = {
        "stem.lif": 0.1,
        "rb1.lif1": 0.2,
        "rb1.lif2": 0.3,
        "rb1.lif3": 0.4,
        "rb2.lif3": 0.9,
        "encoder.lif": 0.9,
        "decoder.lif": 0.5,
        "input": 0.9,
        "rb3.downsample": 0.9,
        "head.fc": 0.9,
        "rb4.lif3": 0.9,
        "rb3.conv2": 0.6,
    }
    assert layer_rates(rates, num_blocks=4, split=2) == {
        "blocks.0.conv1": 0.1,
        "blocks.0.conv2": 0.2,
        "blocks.0.conv3": 0.3,
        "blocks.1.conv1": 0.4,
        "blocks.2.conv1": 0.5,
        "blocks.2.conv2": 0.6,
    }
    assert layer_rates({"rb2.lif3": 0.7}, num_blocks=4) == {"blocks.2.conv1": 0.7}
    with pytest.raises(ConfigError, match="'rb1.lif1' and 'rb1.conv2' give .* different rates"):
        layer_rates({"rb1.lif1": 0.2, "rb1.conv2": 0.3}, num_blocks=4)
    with pytest.raises(ConfigError, match="unknown key 'rb5.lif1'"):
        layer_rates({"rb5.lif1": 0.2}, num_blocks=4)
    with pytest.raises(ConfigError, match="unknown key 'encoder.lif'"):
        layer_rates({"encoder.lif": 0.2}, num_blocks=4)  # no bottleneck: no encoder


def test_shared_reader_errors(tmp_path):
    from sbn.graph.rates import read_rates, translate_module_keys, write_rates

    write_rates(tmp_path / "ok.json", {"rb1.lif1": 0.5}, time_steps=2, source="lava")
    assert dict(read_rates(tmp_path / "ok.json").rates) == {"rb1.lif1": 0.5}
    (tmp_path / "plain.json").write_text('{"l1": 0.1}')
    plain = read_rates(tmp_path / "plain.json")
    assert dict(plain.rates) == {"l1": 0.1} and plain.time_steps is None
    with pytest.raises(ConfigError, match="does not state time_steps"):
        load_rates(tmp_path / "plain.json")
    for text, words in [
        ('{"schema": "sbn.firing-rates/1", "rates": {"a": null}}', "'a' must be"),
        ('{"schema": "sbn.firing-rates/1", "rates": {"a": true}}', "'a' must be"),
        ('{"schema": "sbn.firing-rates/1", "rates": [1]}', '"rates" must be'),
        ('{"schema": "x", "rates": {}}', "key 'schema' is 'x'; this sbn reads firing rates"),
        ('{"schema": "sbn.firing-rates/1", "time_steps": 0, "rates": {}}', "time_steps must be"),
    ]:
        (tmp_path / "bad.json").write_text(text)
        with pytest.raises(ConfigError, match=words):
            read_rates(tmp_path / "bad.json")
    modules = {
        "rb1.conv1": "backbone.blocks.0.conv1",
        "rb1.lif1": "backbone.blocks.0.sn1",
        "a": "shared",
        "b": "shared",
        "head.flatten": None,
    }
    assert translate_module_keys({"blocks.0.conv1": 0.1, "rb1.lif1": 0.2, "zz": 0.3}, modules) == {
        "rb1.conv1": 0.1,
        "rb1.lif1": 0.2,
        "zz": 0.3,
    }
    with pytest.raises(ConfigError, match="module key 'shared' matches several nodes"):
        translate_module_keys({"shared": 0.1}, modules)
    with pytest.raises(ConfigError, match="'rb1.conv1' is given a rate twice"):
        translate_module_keys({"rb1.conv1": 0.1, "blocks.0.conv1": 0.1}, modules)
