"""The device half on simulated Loihi 2 cores: Lava's own fixed-point processes.

    q = sbn.targets.quantize.quantize(device_graph, get_target("loihi2"))
    run = simulate_fixed(device_graph, q, images, time_steps=4)          # fast models
    run = simulate_fixed(device_graph, q, images, time_steps=4, fast=False, probe=True)  # Lava's

See docs/loihi.md.
"""

from sbn.targets.lava.loihi.models import FAST_FIXED_MODELS, fixed_run_cfg
from sbn.targets.lava.loihi.network import FixedNetwork, build, timing
from sbn.targets.lava.loihi.simulate import FixedRun, simulate_fixed

__all__ = [
    "FAST_FIXED_MODELS",
    "FixedNetwork",
    "FixedRun",
    "build",
    "fixed_run_cfg",
    "simulate_fixed",
    "timing",
]
