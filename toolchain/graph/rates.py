"""Firing-rate files ``sbn.firing-rates/1``: the one reader and the one writer.

    write_rates(path, {"rb1.conv1": 0.12, ...}, time_steps=4, source="pytorch on digits")
    read_rates(path) -> RatesFile          # .rates: NIR node name -> spikes per neuron per step

File layout (JSON object)::

    {"schema": "sbn.firing-rates/1", "producer": "sbn 0.x", "source": "pytorch on digits",
     "samples": 32, "time_steps": 4, "extra": {"dataset": "digits"},
     "rates": {"rb1.conv1": 0.12, "rb1.lif1": 0.08, ...}}

Key convention: every key of ``rates`` is the name of a node of the exported NIR graph
(``sbn.graph.export``: "stem.lif", "rb3.conv1", "rb3.lif2", "encoder.lif", ...), and a rate
is spikes per neuron per time step, in [0, 1]. A key naming a *neuron* (or Input) node is the
rate of the spikes that node emits (what a Lava run measures); a key naming a *synaptic* node
(a convolution) is the rate of the spike train entering it (the energy model's ``fr_l``,
what ``sbn energy`` writes). Both views of one spike train are the same number.

Files written before this convention keyed rates by PyTorch module path
(``blocks.2.conv1``, ``backbone.blocks.2.conv1``); readers that hold the graph translate such
keys through each node's ``sbn.module`` metadata where exactly one node matches
(``translate_module_keys``). A plain JSON object ``{"node": rate}`` without a schema is read
too (T unknown). This module needs neither torch nor the targets: ``sbn energy`` and
``sbn map`` both import it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sbn.errors import ConfigError
from sbn.fileio import check_version

RATES_SCHEMA = "sbn.firing-rates/1"
#: schema strings this reader understands
RATE_SCHEMAS = (RATES_SCHEMA,)


@dataclass(frozen=True)
class RatesFile:
    """The contents of a rates file: ``rates`` keyed by NIR node name (see the module doc),
    the T they were measured at (None when the file does not say) and where they came from."""

    rates: Mapping[str, float]
    time_steps: int | None = None
    source: str = "file"
    samples: int | None = None
    producer: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rates", MappingProxyType(dict(self.rates)))
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))


def check_rate(key: str, value: Any, where: str = "firing rates") -> float:
    """``value`` as a float in [0, 1]; a one-line ConfigError naming ``key`` otherwise."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0.0 <= value <= 1.0
    ):
        raise ConfigError(
            f"{where}: firing rate of node {key!r} must be a number in [0, 1] spikes per step, got {value!r}"
        )
    return float(value)


def rates_dict(
    rates: Mapping[str, float],
    *,
    time_steps: int,
    source: str,
    samples: int | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict:
    """The ``sbn.firing-rates/1`` JSON object (also embedded in ``sbn.energy/1`` reports)."""
    from sbn import __version__

    return {
        "schema": RATES_SCHEMA,
        "producer": f"sbn {__version__}",
        "source": source,
        "samples": samples,
        "time_steps": int(time_steps),
        "extra": dict(extra or {}),
        "rates": {str(k): check_rate(str(k), v) for k, v in rates.items()},
    }


def write_rates(
    path: str | os.PathLike,
    rates: Mapping[str, float],
    *,
    time_steps: int,
    source: str,
    samples: int | None = None,
    extra: Mapping[str, str] | None = None,
) -> None:
    """Write ``rates`` (NIR node name -> rate) as an ``sbn.firing-rates/1`` file, atomically."""
    from sbn.fileio import write_json

    write_json(path, rates_dict(rates, time_steps=time_steps, source=source, samples=samples, extra=extra))


def parse_rates(data: Any, where: str = "firing rates") -> RatesFile:
    """A decoded rates file (versioned object or plain ``{"node": rate}``) -> RatesFile."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a JSON object of node name -> firing rate")
    versioned = "schema" in data or "format" in data or isinstance(data.get("rates"), Mapping)
    if not versioned:
        table = data
        meta: Mapping[str, Any] = {}
    else:
        check_version(dict(data), RATE_SCHEMAS, where, "firing rates", version_optional=True)
        table = data.get("rates")
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where}: \"rates\" must be a JSON object of node name -> firing rate")
        meta = data
    rates = {str(k): check_rate(str(k), v, where) for k, v in table.items()}
    t = meta.get("time_steps")
    if t is not None and (isinstance(t, bool) or not isinstance(t, int) or t < 1):
        raise ConfigError(f"{where}: time_steps must be an integer >= 1, got {t!r}")
    samples = meta.get("samples")
    if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int)):
        raise ConfigError(f"{where}: samples must be an integer or null, got {samples!r}")
    extra = meta.get("extra") or {}
    if not isinstance(extra, Mapping):
        raise ConfigError(f"{where}: extra must be a JSON object, got {extra!r}")
    return RatesFile(
        rates=rates,
        time_steps=t,
        source=str(meta.get("source") or "file"),
        samples=samples,
        producer=meta.get("producer"),
        extra={str(k): str(v) for k, v in extra.items()},
    )


def read_rates(path: str | os.PathLike) -> RatesFile:
    """Read and check a rates file; every problem is a one-line ConfigError naming ``path``."""
    from sbn.fileio import read_document

    return parse_rates(
        read_document(path, RATE_SCHEMAS, "firing rates", version_optional=True), where=str(path)
    )


def translate_module_keys(
    rates: Mapping[str, float], nodes: Mapping[str, str | None], where: str = "firing rates"
) -> dict[str, float]:
    """Rekey rates given by PyTorch module path onto NIR node names.

    ``nodes``: node name -> its ``sbn.module`` metadata (None where absent). A key that is a
    node name stays. Another key is looked up among the module paths, also with a leading
    ``backbone.`` dropped (a SpikeBottleNet's modules sit under ``backbone``); exactly one
    matching node translates it. Keys matching no node are left as they are (the caller
    names them as unknown); several matches, or two keys landing on one node, are errors.
    """
    by_module: dict[str, list[str]] = {}
    for node, module in nodes.items():
        if not module:
            continue
        for alias in {module, module.removeprefix("backbone.")}:
            by_module.setdefault(alias, []).append(node)
    out: dict[str, float] = {}
    origin: dict[str, str] = {}
    for key, rate in rates.items():
        target = key
        if key not in nodes and key in by_module:
            matches = sorted(set(by_module[key]))
            if len(matches) > 1:
                raise ConfigError(
                    f"{where}: module key {key!r} matches several nodes "
                    f"({', '.join(matches)}); key the rates by node name"
                )
            target = matches[0]
        if target in out:
            raise ConfigError(
                f"{where}: node {target!r} is given a rate twice (as {origin[target]!r} and {key!r})"
            )
        out[target], origin[target] = rate, key
    return out


def node_modules(graph) -> dict[str, str | None]:
    """node name -> ``sbn.module`` metadata of a ``nir.NIRGraph`` (None where absent)."""
    from sbn.graph.conventions import KEY_MODULE

    out: dict[str, str | None] = {}
    for name, node in graph.nodes.items():
        value = (getattr(node, "metadata", None) or {}).get(KEY_MODULE)
        out[name] = None if value is None else _text(value)
    return out


def _text(value: Any) -> str:
    item = value.item() if hasattr(value, "item") and getattr(value, "size", 2) == 1 else value
    if isinstance(item, bytes):
        item = item.decode()
    return str(item)
