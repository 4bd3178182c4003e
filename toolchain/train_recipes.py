"""Named training recipes: ``sbn train --recipe NAME`` fills every option it names that
the command line leaves at its default, and the docs list where each value comes from.

The SpikeBottleNet paper gives no hyper-parameters, so a recipe is the standard CIFAR
ResNet training the spiking literature starts from, adapted where our trainer differs;
each value carries its source. A recipe is data: adding one is adding an entry here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sbn.errors import ConfigError

CUTOUT = (
    "DeVries & Taylor 2017, 'Improved Regularization of CNNs with Cutout', the setting "
    "of the common CIFAR-100 ResNet50 baseline (github.com/weiaicunzai/pytorch-cifar100: "
    "22.61 % top-1 error)"
)
HE = "He et al. 2016, 'Deep Residual Learning', section 4.2 (CIFAR)"


@dataclass(frozen=True)
class Recipe:
    name: str
    what: str
    options: Mapping[str, Any]  # sbn train parameter name -> value
    sources: Mapping[str, str]  # parameter name -> where the value comes from

    def __post_init__(self) -> None:
        if set(self.options) != set(self.sources):
            raise ValueError(f"recipe {self.name}: every option needs a source")


RECIPES = {
    r.name: r
    for r in (
        Recipe(
            "cifar100-resnet50",
            "step 1 at the paper's scale: spiking ResNet50, full width, T = 4, on CIFAR-100",
            options={
                "dataset": "cifar100",
                "kind": "spiking",
                "width": 1.0,
                "layers": (3, 4, 6, 3),
                "time_steps": 4,
                "optimizer": "sgd",
                "lr": 0.1,
                "weight_decay": 5e-4,
                "batch_size": 128,
                "epochs": 200,
                "augment": True,
            },
            sources={
                "dataset": "the paper's CIFAR-100 result (76.81 % at T = 4)",
                "kind": "the paper's backbone",
                "width": "ResNet50's channel counts (the paper's backbone)",
                "layers": "ResNet50: RB1..RB16 in stages of 3, 4, 6, 3 blocks",
                "time_steps": "the paper's headline setting (T = 4; T = 2 also reported)",
                "optimizer": f"SGD with momentum 0.9: {HE}; {CUTOUT} (Nesterov there)",
                "lr": f"0.1: {HE}; {CUTOUT}. The schedule is our cosine to 1 % "
                "(Loshchilov & Hutter 2017, SGDR) instead of Cutout's steps at 60/120/160",
                "weight_decay": f"5e-4: {CUTOUT} (He et al. use 1e-4 on CIFAR-10)",
                "batch_size": f"128: {HE}; {CUTOUT}. Global over all data-parallel ranks",
                "epochs": f"200: {CUTOUT}",
                "augment": f"4-pixel padded random crop + horizontal flip: {HE}",
            },
        ),
    )
}


def resolve_recipe(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise ConfigError(f"unknown recipe {name!r}: choose one of {', '.join(RECIPES)}") from None
