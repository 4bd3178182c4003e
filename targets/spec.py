"""A neuromorphic target as data: one frozen dataclass, validated on construction.

The resource model is the one ``docs/targets.md`` describes: a chip holds
``cores_per_chip`` cores; a core holds up to ``neurons_per_core`` neurons together with the
synapses of those neurons (their fan-in), stored in ``synaptic_memory_bits_per_core`` bits
at ``weight_bits`` bits per weight. Where ``shared_conv_weights`` is true, a convolution
stores its kernel once per output channel held by the core instead of once per neuron.

Everything a placement needs to know about hardware is a field here; the placement code has
no per-target branches.

A target may also carry its chip's fixed-point number formats (:class:`FixedPointFormat`,
the ``fixed_point`` table of a target file) for a quantiser to read; a target without them
(a mixed-signal chip such as ROLLS) has ``fixed_point = None``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sbn.errors import ConfigError
from sbn.fileio import LEGACY_VERSION_KEY, VERSION_KEY, check_version

#: the version key of target files, and the one older files used
VERSION_KEYS = {VERSION_KEY, LEGACY_VERSION_KEY}

if TYPE_CHECKING:  # pragma: no cover - typing only
    from sbn.targets.groups import NeuronGroup

#: format string of target description files (TOML or JSON)
TARGET_SCHEMA = "sbn.target/1"

_INT_FIELDS = (
    "chips",
    "cores_per_chip",
    "neurons_per_core",
    "synaptic_memory_bits_per_core",
    "weight_bits",
)
_OPTIONAL_INT_FIELDS = ("max_fan_in", "max_fan_out")


@dataclass(frozen=True)
class FixedPointFormat:
    """Fixed-point number formats of a digital neuromorphic chip, for a quantiser.

    Bit widths (``*_bits``) must be positive integers; exponents, the threshold shift and
    ``max_delay`` must be non-negative integers; ``weight_exp_min <= weight_exp_max``.

    ``weight_mant_bits``: signed weight mantissa bits (8: -128..127).
    ``weight_exp_min`` / ``weight_exp_max``: range of the shared weight exponent of a layer;
    the effective weight is ``m * 2**e``. Lava 0.10's ``PyConvModelFixed`` ignores
    ``weight_exp``, and the Dense models apply it as a shift of the accumulated sum; only
    non-negative exponents are used here, so ``m * 2**e`` is exact.
    ``state_bits``: signed width of the neuron state (current ``u``, voltage ``v``).
    ``decay_bits``: width of the decay constants ``du``, ``dv`` (fractions of ``2**decay_bits``).
    ``threshold_bits``: unsigned width of ``vth``; ``threshold_shift``: the left shift the
    chip applies to ``vth`` (and to the synaptic input ``a_in``) to MSB-align it with the state.
    ``bias_mant_bits``: signed bias mantissa bits; ``bias_exp_max``: largest bias exponent.
    ``accumulator_bits``: signed width one projection's synaptic sums wrap at (Lava's
    ``signed_clamp`` wraps, it does not saturate).
    ``max_delay``: longest synaptic delay in time steps.
    ``input_bits``: unsigned width of graded input messages (e.g. 8-bit pixels).
    """

    weight_mant_bits: int
    weight_exp_min: int
    weight_exp_max: int
    state_bits: int
    decay_bits: int
    threshold_bits: int
    threshold_shift: int
    bias_mant_bits: int
    bias_exp_max: int
    accumulator_bits: int
    max_delay: int
    input_bits: int

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            positive = f.name.endswith("_bits")
            if isinstance(value, bool) or not isinstance(value, int) or value < (1 if positive else 0):
                kind = "a positive integer" if positive else "a non-negative integer"
                raise ConfigError(f"fixed_point field {f.name!r} must be {kind}, got {value!r}")
        if self.weight_exp_min > self.weight_exp_max:
            raise ConfigError(
                f"fixed_point field 'weight_exp_min' ({self.weight_exp_min}) exceeds "
                f"'weight_exp_max' ({self.weight_exp_max})"
            )

    # --- derived figures ------------------------------------------------------------
    @property
    def weight_mant_min(self) -> int:
        """Smallest weight mantissa."""
        return -(2 ** (self.weight_mant_bits - 1))

    @property
    def weight_mant_max(self) -> int:
        """Largest weight mantissa."""
        return 2 ** (self.weight_mant_bits - 1) - 1

    @property
    def state_max(self) -> int:
        """``2**(state_bits-1)`` (Lava's ``max_uv_val``): the current u wraps by twice this
        beyond it, the voltage v saturates one below it."""
        return 2 ** (self.state_bits - 1)

    @property
    def decay_unity(self) -> int:
        """The decay constant that means 1 (a decay is ``d / decay_unity``)."""
        return 2**self.decay_bits

    @property
    def threshold_max(self) -> int:
        """Largest threshold mantissa (before the shift)."""
        return 2**self.threshold_bits - 1

    @property
    def bias_mant_min(self) -> int:
        """Smallest bias mantissa."""
        return -(2 ** (self.bias_mant_bits - 1))

    @property
    def bias_mant_max(self) -> int:
        """Largest bias mantissa."""
        return 2 ** (self.bias_mant_bits - 1) - 1

    @property
    def accumulator_max(self) -> int:
        """Largest synaptic sum before it wraps."""
        return 2 ** (self.accumulator_bits - 1) - 1

    @property
    def input_max(self) -> int:
        """Largest graded input value."""
        return 2**self.input_bits - 1

    # --- files ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, int]:
        """Plain data (a TOML/JSON table); ``from_dict`` reads it back."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any, where: str = "fixed_point") -> FixedPointFormat:
        """Build from a table of the fields; unknown and missing keys are named."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: field 'fixed_point' must be a table of fixed-point formats")
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(
                f"{where}: unknown fixed_point field {unknown[0]!r}; known fields are {', '.join(known)}"
            )
        missing = [n for n in known if n not in data]
        if missing:
            raise ConfigError(f"{where}: missing fixed_point field {missing[0]!r}")
        try:
            return cls(**data)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None


@dataclass(frozen=True)
class Target:
    """Hardware limits and costs of one neuromorphic target.

    ``max_fan_in``: synapses one neuron may receive (``None``: only memory limits it).
    ``max_fan_out``: synapses one neuron may drive, averaged over a node (``None``: no limit).
    ``energy_per_synaptic_op_j`` / ``energy_per_neuron_update_j``: joules per event
    (``None`` for the neuron update where no figure is published).
    ``fixed_point``: the chip's fixed-point number formats (``None``: none, e.g. analog).
    ``sources``: pairs (field name, where the figure comes from).
    """

    name: str
    description: str
    chips: int
    cores_per_chip: int
    neurons_per_core: int
    synaptic_memory_bits_per_core: int
    weight_bits: int
    shared_conv_weights: bool
    energy_per_synaptic_op_j: float
    energy_per_neuron_update_j: float | None = None
    max_fan_in: int | None = None
    max_fan_out: int | None = None
    fixed_point: FixedPointFormat | None = None
    sources: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError("target field 'name' must be a non-empty string")
        where = f"target {self.name!r}"
        for name in _INT_FIELDS:
            _check_int(where, name, getattr(self, name), allow_none=False)
        for name in _OPTIONAL_INT_FIELDS:
            _check_int(where, name, getattr(self, name), allow_none=True)
        if self.weight_bits > self.synaptic_memory_bits_per_core:
            raise ConfigError(
                f"{where}: weight_bits ({self.weight_bits}) exceeds "
                f"synaptic_memory_bits_per_core ({self.synaptic_memory_bits_per_core}); "
                "a core must hold at least one weight"
            )
        if not isinstance(self.shared_conv_weights, bool):
            raise ConfigError(f"{where}: field 'shared_conv_weights' must be true or false")
        _check_energy(where, "energy_per_synaptic_op_j", self.energy_per_synaptic_op_j, False)
        _check_energy(where, "energy_per_neuron_update_j", self.energy_per_neuron_update_j, True)
        if self.fixed_point is not None and not isinstance(self.fixed_point, FixedPointFormat):
            raise ConfigError(f"{where}: field 'fixed_point' must be a FixedPointFormat or absent")
        known = {f.name for f in dataclasses.fields(self)}
        for pair in self.sources:
            if len(pair) != 2 or not all(isinstance(x, str) for x in pair):
                raise ConfigError(f"{where}: each source must be a (field, text) pair of strings")
            if pair[0] not in known:
                raise ConfigError(
                    f"{where}: source given for unknown field {pair[0]!r}; "
                    f"fields are {', '.join(sorted(known))}"
                )

    # --- derived figures ------------------------------------------------------------
    @property
    def cores(self) -> int:
        """Cores on all chips together."""
        return self.chips * self.cores_per_chip

    @property
    def synapses_per_core(self) -> int:
        """Weights a core stores: synaptic memory divided by the weight precision."""
        return self.synaptic_memory_bits_per_core // self.weight_bits

    def with_chips(self, chips: int) -> Target:
        """The same target with another chip count (a board of several chips)."""
        return dataclasses.replace(self, chips=chips)

    # --- the fits(layer) check ------------------------------------------------------
    def tile_synapses(self, group: NeuronGroup, k: int) -> int:
        """Weights a core must store to hold ``k`` neurons of ``group``.

        A projection whose weights are translation-invariant (a convolution chain) costs
        its kernel once per output channel the tile touches when the target shares conv
        weights; every other projection costs ``k * fan_in``. A tile of ``k`` consecutive
        neurons in channel-major order touches at most ``min(k, C, ceil(k / HW) + 1)``
        channels.
        """
        channels, per_channel = group.channels, group.per_channel
        total = 0
        for proj in group.projections:
            if self.shared_conv_weights and proj.shared_weights is not None:
                touched = min(k, channels, math.ceil(k / per_channel) + 1)
                total += touched * proj.shared_weights
            else:
                total += k * proj.fan_in
        return total

    def max_tile_neurons(self, group: NeuronGroup) -> int:
        """Largest number of ``group``'s neurons one core holds; 0 if not even one."""
        hi = min(self.neurons_per_core, group.neurons)
        cap = self.synapses_per_core
        if hi < 1 or self.tile_synapses(group, 1) > cap:
            return 0
        lo = 1  # invariant: lo fits; tile_synapses is non-decreasing in k
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.tile_synapses(group, mid) <= cap:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def fits(self, group: NeuronGroup) -> bool:
        """Whether at least one neuron of ``group`` fits a core and its fan-in is allowed."""
        if self.max_fan_in is not None and group.fan_in > self.max_fan_in:
            return False
        return self.max_tile_neurons(group) > 0

    # --- files ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain data with the file format string; ``from_dict`` reads it back.

        ``fixed_point`` is written as a plain table, and left out when absent (TOML has no
        null).
        """
        data: dict[str, Any] = {"schema": TARGET_SCHEMA}
        for f in dataclasses.fields(self):
            if f.name == "fixed_point":
                if self.fixed_point is not None:
                    data[f.name] = self.fixed_point.to_dict()
            elif f.name != "sources":
                data[f.name] = getattr(self, f.name)
        data["sources"] = dict(self.sources)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], origin: str = "target description") -> Target:
        """Build a target from plain data (a parsed TOML/JSON file); errors name ``origin``."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{origin}: expected a table of target fields")
        check_version(dict(data), TARGET_SCHEMA, origin, "a target description", version_optional=True)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields) - VERSION_KEYS)
        if unknown:
            raise ConfigError(
                f"{origin}: unknown field {unknown[0]!r}; known fields are {', '.join(sorted(fields))}"
            )
        required = [n for n, f in fields.items() if f.default is dataclasses.MISSING]
        missing = [n for n in required if n not in data]
        if missing:
            raise ConfigError(f"{origin}: missing field {missing[0]!r}")
        kwargs = {k: v for k, v in data.items() if k not in VERSION_KEYS}
        sources = kwargs.get("sources", {})
        if not isinstance(sources, Mapping):
            raise ConfigError(f"{origin}: field 'sources' must be a table of field = \"text\"")
        kwargs["sources"] = tuple((str(k), v) for k, v in sources.items())
        if kwargs.get("fixed_point") is not None:
            kwargs["fixed_point"] = FixedPointFormat.from_dict(kwargs["fixed_point"], where=origin)
        try:
            return cls(**kwargs)
        except ConfigError as exc:
            raise ConfigError(f"{origin}: {exc}") from None


def _check_int(where: str, name: str, value: Any, allow_none: bool) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        kind = "a positive integer" + (" or absent" if allow_none else "")
        raise ConfigError(f"{where}: field {name!r} must be {kind}, got {value!r}")


def _check_energy(where: str, name: str, value: Any, allow_none: bool) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigError(f"{where}: field {name!r} must be a non-negative number of joules, got {value!r}")
    if value > 1e-6:
        raise ConfigError(
            f"{where}: field {name!r} = {value!r} J is implausibly large for one event; "
            "give joules, e.g. 77e-15 for 77 fJ"
        )
