"""Option types with bounds: a number from the command line is refused by click (one line,
naming the option and the range) before it reaches an allocation or a loop.

Python's ints do not overflow, so ``--channels 99999999999999999999`` would otherwise be
"accepted" and fail somewhere deep (numpy's int64, a tensor's size) or run for ever; and
click's FloatRange lets NaN through (every comparison with NaN is false) and takes ``inf``.
"""

from __future__ import annotations

import math

import click

from sbn.graph.checks import MAX_ELEMENTS
from sbn.models.config import LIMITS, MAX_WIDTH


class FiniteFloat(click.FloatRange):
    """A float in a range that is also finite: ``nan`` and ``inf`` are refused."""

    name = "finite float"

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


#: a count of things (samples, batch size, epochs): at least one, at most 2^31 - 1
COUNT = click.IntRange(1, MAX_ELEMENTS - 1)
#: Ray workers (0: none) and retries of a failed piece of work
WORKERS = click.IntRange(0, 4096)
RETRIES = click.IntRange(0, 1000)
#: chips on a board
CHIPS = click.IntRange(1, 1_000_000)
#: a channel width multiplier, as ``ModelConfig`` takes it
WIDTH = FiniteFloat(0.0, MAX_WIDTH, min_open=True)
#: time steps T of a spiking model, and of a graph whose metadata states none
TIME_STEPS = click.IntRange(1, 8)
GRAPH_TIME_STEPS = click.IntRange(1, 100_000)
#: C', the encoder's channels; s, its stride; its kernel size
CHANNELS = click.IntRange(1, LIMITS["channels"])
STRIDE = click.IntRange(1, LIMITS["stride"])
KERNEL_SIZE = click.IntRange(1, LIMITS["kernel_size"])
#: a random seed (torch takes 64 bits)
SEED = click.IntRange(0, 2**63 - 1)
#: a rate, a learning rate or a weight: a finite real number
POSITIVE = FiniteFloat(0.0, min_open=True)
NON_NEGATIVE = FiniteFloat(0.0)
