"""Fine-tuning through a noisy channel: ``sbn train --channel bsc:P``.

BottleNet++ trains its bottleneck with the channel's noise on the features, so that the
decoder learns to read damaged payloads. Here the payload is binary, and the noise that
acts on spikes directly is bit errors: while the model is in training mode, every spike
slot the encoder emits is flipped with probability P (``bsc:P``, or ``awgn:EBN0_DB`` through
its hard-decision error rate) before the edge sees it. The gradient passes straight through
the flips (as through the spike function's surrogate: the decoder's error signal reaches the
encoder as if the slot had not been flipped). Evaluation (eval mode) sees clean payloads;
measure accuracy under noise with ``sbn channel``. Erasure and bursts act on the coded
bytes, which training does not produce, so they are refused here.

The flips come from a forward hook on the encoder's LIF, a removable handle this context
owns: nothing in the model's code changes, and the checkpoint holds no trace of it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from sbn.errors import ConfigError


def bit_error_rate(spec: str) -> float:
    """The flip probability of a training channel SPEC; ConfigError for other kinds."""
    from sbn.wire import parse_channel
    from sbn.wire.bit_errors import BinarySymmetric

    channel = parse_channel(spec)
    if not isinstance(channel, BinarySymmetric):
        raise ConfigError(
            f"--channel {spec}: training flips spikes, so it takes bsc:P or "
            "awgn:EBN0_DB; evaluate erasure and bursts with `sbn channel`"
        )
    return channel.error_rate


class _Flip(torch.autograd.Function):
    """Spikes with some slots flipped; the gradient as if none were."""

    @staticmethod
    def forward(ctx, spikes: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
        return torch.where(flips, 1.0 - spikes, spikes)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad, None


def flip_spikes(spikes: torch.Tensor, p: float) -> torch.Tensor:
    return _Flip.apply(spikes, torch.rand_like(spikes) < p)


@contextlib.contextmanager
def noisy_payload(model: torch.nn.Module, spec: str | None) -> Iterator[None]:
    """While open, a model in training mode sends its payload through ``spec``."""
    if spec is None:
        yield
        return
    p = bit_error_rate(spec)
    unit = getattr(model, "bottleneck", None)
    config = getattr(model, "config", None)
    if unit is None or getattr(config, "kind", None) != "spiking":
        raise ConfigError(
            "--channel trains a SpikeBottleNet through bit errors on its spikes: "
            "give --from BACKBONE --split RBk --channels C' (a spiking bottleneck)"
        )

    def hook(module, inputs, output):
        return flip_spikes(output, p) if module.training else output

    handle = unit.enc_act.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()
