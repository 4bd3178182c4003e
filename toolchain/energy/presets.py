"""Energy cost presets: the price of one operation on one technology, as plain data.

A preset prices a synaptic operation (``e_syop_pj``: an accumulate triggered by one input
spike, what the spiking model does) and/or a multiply-accumulate (``e_mac_pj``: what the
real-valued baseline does). Built-in presets (sources in docs/energy.md):

    45nm    Horowitz, ISSCC 2014, 45 nm CMOS at 0.9 V, 32-bit float:
            E_AC = 0.9 pJ (add), E_MAC = 3.7 + 0.9 = 4.6 pJ (multiply + add)
    rolls   ROLLS, Qiao et al., Front. Neurosci. 2015 (180 nm mixed-signal): 77 fJ/SyOP
    loihi2  Loihi, Davies et al., IEEE Micro 2018 (14 nm digital): 23.6 pJ per
            synaptic spike operation (the chip's minimum figure; "loihi" is an alias)

A chip's preset is read from its built-in target (``sbn.targets.builtin``: the figure and
its source live there once), so energy reports and the mapper price a chip alike.

User presets come from a TOML or JSON file (``load_preset_file``)::

    schema = "sbn.energy-presets/1"
    [presets.mychip]
    e_syop_pj = 0.05            # at least one of e_syop_pj / e_mac_pj
    e_mac_pj = 1.2
    description = "my accelerator"
    source = "datasheet rev 3, table 7"
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sbn.errors import ConfigError
from sbn.fileio import check_version, read_document
from sbn.targets.builtin import BUILTIN_TARGETS
from sbn.targets.spec import Target

PRESETS_SCHEMA = "sbn.energy-presets/1"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_FIELDS = {"e_syop_pj", "e_mac_pj", "description", "source"}


@dataclass(frozen=True)
class CostPreset:
    """Energy per operation of one technology, in picojoules."""

    name: str
    e_syop_pj: float | None = None
    e_mac_pj: float | None = None
    description: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ConfigError(
                f"preset name {self.name!r} must be lower-case letters, digits and '_' "
                "(it becomes a JSON key such as snn_<name>_mj)"
            )
        if self.e_syop_pj is None and self.e_mac_pj is None:
            raise ConfigError(f"preset {self.name!r} prices nothing: give e_syop_pj and/or e_mac_pj")
        for key in ("e_syop_pj", "e_mac_pj"):
            value = getattr(self, key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"preset {self.name!r}: {key} must be a number, got {value!r}")
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"preset {self.name!r}: {key} must be > 0 pJ, got {value}")
            object.__setattr__(self, key, float(value))

    @property
    def prices_syops(self) -> bool:
        return self.e_syop_pj is not None

    @property
    def prices_macs(self) -> bool:
        return self.e_mac_pj is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "e_syop_pj": self.e_syop_pj,
            "e_mac_pj": self.e_mac_pj,
            "description": self.description,
            "source": self.source,
        }


HOROWITZ_45NM = CostPreset(
    name="45nm",
    e_syop_pj=0.9,
    e_mac_pj=4.6,
    description="45 nm CMOS, 32-bit float: AC 0.9 pJ, MAC 4.6 pJ",
    source="M. Horowitz, 'Computing's energy problem (and what we can do about it)', "
    "ISSCC 2014: 45 nm, 0.9 V; FP32 add 0.9 pJ, FP32 mult 3.7 pJ",
)


def target_preset(target: Target) -> CostPreset:
    """A chip's preset, read from its target (``sbn.targets``): one source for its figure."""
    pj = float(f"{target.energy_per_synaptic_op_j * 1e12:.12g}")  # 23.6e-12 J -> 23.6 pJ, not ...98
    return CostPreset(
        name=target.name,
        e_syop_pj=pj,
        description=f"{target.name} target: {pj:g} pJ per synaptic operation",
        source=dict(target.sources).get("energy_per_synaptic_op_j", ""),
    )


BUILTIN_PRESETS: Mapping[str, CostPreset] = {
    HOROWITZ_45NM.name: HOROWITZ_45NM,
    **{name: target_preset(t) for name, t in BUILTIN_TARGETS.items()},
}
#: names earlier versions used: "loihi" was the Loihi 1 figure the loihi2 target carries
ALIASES: Mapping[str, str] = {"loihi": "loihi2"}

#: the spiking model is always priced on these; the baseline on DEFAULT_ANN_PRESET
DEFAULT_SNN_PRESETS = ("45nm", "rolls")
DEFAULT_ANN_PRESET = "45nm"


def load_preset_file(path: str | os.PathLike) -> dict[str, CostPreset]:
    """User presets from a TOML (``.toml``) or JSON file; see the module docstring."""
    return parse_presets(read_document(path, PRESETS_SCHEMA, "energy presets"), where=str(path))


def parse_presets(data: Any, where: str = "presets") -> dict[str, CostPreset]:
    check_version(dict(data) if isinstance(data, Mapping) else data, PRESETS_SCHEMA, where, "energy presets")
    table = data.get("presets")
    if not isinstance(table, Mapping) or not table:
        raise ConfigError(f"{where}: no [presets.<name>] tables found")
    presets = {}
    for name, fields in table.items():
        if not isinstance(fields, Mapping):
            raise ConfigError(f"{where}: preset {name!r} must be a table of fields")
        unknown = sorted(set(fields) - _FIELDS)
        if unknown:
            raise ConfigError(
                f"{where}: preset {name!r} has unknown field {unknown[0]!r} "
                f"(known: {', '.join(sorted(_FIELDS))})"
            )
        if name in BUILTIN_PRESETS or name in ALIASES:
            raise ConfigError(f"{where}: preset {name!r} would shadow a built-in preset")
        try:
            presets[name] = CostPreset(name=name, **fields)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return presets


def resolve_preset(name: str, extra: Mapping[str, CostPreset] | None = None) -> CostPreset:
    """The preset called ``name`` among the built-ins and ``extra``."""
    known = {**BUILTIN_PRESETS, **(extra or {})}
    try:
        return known[ALIASES.get(name, name) if name not in known else name]
    except KeyError:
        raise ConfigError(f"unknown energy preset {name!r}: known presets are {', '.join(known)}") from None
