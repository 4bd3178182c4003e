"""The built-in targets: figures with their sources (see ``docs/targets.md``)."""

from __future__ import annotations

from sbn.targets.spec import FixedPointFormat, Target

LOIHI2 = Target(
    name="loihi2",
    description="Intel Loihi 2-class chip: 128 neuro cores; per-core memory figures are estimates",
    chips=1,
    cores_per_chip=128,
    neurons_per_core=8192,
    synaptic_memory_bits_per_core=128 * 1024 * 8,
    weight_bits=8,
    shared_conv_weights=True,
    energy_per_synaptic_op_j=23.6e-12,
    energy_per_neuron_update_j=52e-12,
    fixed_point=FixedPointFormat(
        weight_mant_bits=8,
        weight_exp_min=0,
        weight_exp_max=7,
        state_bits=24,
        decay_bits=12,
        threshold_bits=17,
        threshold_shift=6,
        bias_mant_bits=13,
        bias_exp_max=7,
        accumulator_bits=24,
        max_delay=63,
        input_bits=8,
    ),
    sources=(
        ("cores_per_chip", "Intel Labs, Loihi 2 technology brief (2021): 128 neuromorphic cores per chip"),
        (
            "neurons_per_core",
            "Intel Loihi 2 brief: up to 1M neurons per chip / 128 cores = 8192; an upper "
            "bound, the real count depends on the neuron model's state size",
        ),
        (
            "synaptic_memory_bits_per_core",
            "estimate: Loihi 1's 128 KiB per core (Davies et al. 2018, IEEE "
            "Micro; nengo-loihi MAX_SYNAPSE_BITS = 1048576); Intel publishes no fixed Loihi 2 split",
        ),
        ("weight_bits", "choice: 8-bit weights as lava-dl netx quantises them for Loihi 2"),
        ("shared_conv_weights", "lava-dl 0.3.0 release notes: Loihi 2 convolutional network compression"),
        (
            "energy_per_synaptic_op_j",
            "estimate: Loihi 1 synaptic spike op, 23.6 pJ (Davies et al. 2018); "
            "Intel publishes no per-op figure for Loihi 2",
        ),
        ("energy_per_neuron_update_j", "estimate: Loihi 1 active neuron update, 52 pJ (Davies et al. 2018)"),
        (
            "fixed_point",
            "Lava 0.10 bit-accurate models: lava/proc/lif/models.py PyLifModelBitAcc (u, v "
            "24-bit signed; du, dv 12-bit, unity 4096; vth unsigned 17-bit, left-shifted by 6, as is a_in; "
            "bias_mant signed 13-bit, bias_exp unsigned 3-bit); lava/proc/conv/models.py PyConvModelFixed "
            "(sums clamped to signed 24 bits, 8-bit weights); lava/proc/dense/models.py "
            "PyDelayDenseModelBitAcc and lava/proc/sparse/models.py PyDelaySparseModelBitAcc (6-bit delays, "
            "0..63; 8-bit weights); Intel Labs, Loihi 2 technology brief (2021). Choices: weight exponent "
            "0..7 only (Lava's Dense shifts the accumulated sum by weight_exp, PyConvModelFixed ignores it; "
            "non-negative so m * 2**e is exact); 8-bit unsigned graded inputs (pixels)",
        ),
    ),
)

ROLLS = Target(
    name="rolls",
    description="ROLLS mixed-signal chip (INI Zurich, 180 nm): 256 neurons, 128K synapses, one core",
    chips=1,
    cores_per_chip=1,
    neurons_per_core=256,
    synaptic_memory_bits_per_core=256 * 512 * 2,
    weight_bits=2,
    shared_conv_weights=False,
    energy_per_synaptic_op_j=77e-15,
    energy_per_neuron_update_j=None,
    max_fan_in=512,
    sources=(
        ("neurons_per_core", "Qiao et al. 2015, Front. Neurosci. 9:141: 256 neurons"),
        (
            "synaptic_memory_bits_per_core",
            "Qiao et al. 2015: 256x256 LTP (bistable) + 256x256 STP "
            "(4-level) synapses = 128K synapses, counted at 2 bits each",
        ),
        ("weight_bits", "Qiao et al. 2015: STP synapses have 4 programmable levels (2 bits); LTP are 1 bit"),
        (
            "max_fan_in",
            "Qiao et al. 2015: each neuron has 256 LTP + 256 STP synapses (the 2 virtual "
            "synapses per neuron are not modelled)",
        ),
        ("shared_conv_weights", "a crossbar stores every synapse physically"),
        (
            "energy_per_synaptic_op_j",
            "Qiao et al. 2015: 77 fJ per synaptic event (as used by SpikeBottleNet)",
        ),
        ("energy_per_neuron_update_j", "not published per update; left unknown"),
        ("chips", "one chip as published; pass --chips N for a hypothetical board of N chips"),
    ),
)

BUILTIN_TARGETS: dict[str, Target] = {t.name: t for t in (LOIHI2, ROLLS)}
