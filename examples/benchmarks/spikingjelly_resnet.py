"""spikingjelly's multi-step LIF ResNet50, configured as close to ``sbn``'s as its API allows.

Runs in the benchmark's Python 3.11 side venv (spikingjelly 2.0.0 needs >= 3.11), so it
cannot import ``sbn``: the orchestrator passes our channel widths in.

Same as ours: CIFAR stem (3x3 conv, stride 1, no max-pool), bottleneck blocks [3, 4, 6, 3]
with the stride on the 3x3 conv and projected shortcuts, BatchNorm over T*B (tdBN without
its alpha * V_th scale, which is one scalar multiply on the weight), the LIF
``u[t] = k u[t-1] (1 - o[t-1]) + x[t]`` with k = 1 - 1/tau (tau = 2, ``decay_input=False``),
``o = 1{u >= V_th}``, hard reset to 0 not detached, and the rectangular surrogate of width a
(``surrogate.Rect(alpha=1/a)``: height 1/a on |u - V_th| < a/2, as ours).

Different: the head (theirs: pool and FC per time step, then the mean over T; ours: mean over
T, H, W, a norm, one FC); their neurons keep state between calls, so the step resets them
(``functional.reset_net``); their input is ``repeat``-ed over T where ours is ``expand``-ed.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from spikingjelly.activation_based import functional, layer, neuron, surrogate
from spikingjelly.activation_based.model import spiking_resnet
from torch import nn

#: spikingjelly's surrogates: "rect" is ours; its registered CPU LIF kernel covers only its
#: smooth built-ins (sigmoid, atan, ...), so "rect" runs its Torch reference loop. "atan" is
#: its default-style fast path, measured too so that the comparison is against its best.
SURROGATES = {
    "rect": lambda width: surrogate.Rect(alpha=1.0 / width),
    "atan": lambda width: surrogate.ATan(),
    "sigmoid": lambda width: surrogate.Sigmoid(),
}


def build(
    stem: int,
    planes: list[int],
    layers: list[int],
    num_classes: int,
    decay: float,
    v_th: float,
    surrogate_name: str,
    surrogate_width: float,
) -> nn.Module:
    lif = dict(
        tau=1.0 / (1.0 - decay),
        decay_input=False,
        v_threshold=v_th,
        v_reset=0.0,
        surrogate_function=SURROGATES[surrogate_name](surrogate_width),
        detach_reset=False,
    )
    block = spiking_resnet.Bottleneck
    net = spiking_resnet.SpikingResNet(
        block, layers, num_classes=num_classes, spiking_neuron=neuron.LIFNode, **lif
    )
    # CIFAR stem in place of ImageNet's 7x7/2 conv + max-pool, and our channel widths.
    net.conv1 = layer.Conv2d(3, stem, 3, stride=1, padding=1, bias=False)
    net.bn1 = layer.BatchNorm2d(stem)
    net.maxpool = nn.Identity()
    net.inplanes = stem
    for stage, (p, count) in enumerate(zip(planes, layers)):
        stride = 1 if stage == 0 else 2
        setattr(
            net,
            f"layer{stage + 1}",
            net._make_layer(block, p, count, stride=stride, spiking_neuron=neuron.LIFNode, **lif),
        )
    net.fc = layer.Linear(planes[-1] * block.expansion, num_classes)
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    functional.set_step_mode(net, "m")
    return net


def forward_fn(net: nn.Module, time_steps: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """images (B, C, H, W) -> logits (B, classes), the way spikingjelly's examples run it."""

    def forward(images: torch.Tensor) -> torch.Tensor:
        functional.reset_net(net)
        x = images.unsqueeze(0).repeat(time_steps, 1, 1, 1, 1)  # (T, B, C, H, W)
        return net(x).mean(0)

    return forward
