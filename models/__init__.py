"""PyTorch models: the iterative LIF, tdBN, the CIFAR ResNet50 (spiking and real-valued)
and the SpikeBottleNet / BottleNet++ split models."""

from sbn.models.accounting import Payload, block_output_shapes, payload
from sbn.models.bottleneck import SplitModel
from sbn.models.builders import (
    bottlenet_pp,
    build_model,
    resnet50,
    spikebottlenet,
    spiking_resnet50,
)
from sbn.models.config import BottleneckConfig, ModelConfig, parse_split, split_label
from sbn.models.neurons import LIF, LIFParameters, lif_multistep, lif_step
from sbn.models.norm import TdBatchNorm
from sbn.models.resnet import ResNet

__all__ = [
    "LIF",
    "LIFParameters",
    "ModelConfig",
    "BottleneckConfig",
    "Payload",
    "ResNet",
    "SplitModel",
    "TdBatchNorm",
    "block_output_shapes",
    "bottlenet_pp",
    "build_model",
    "lif_multistep",
    "lif_step",
    "parse_split",
    "payload",
    "resnet50",
    "spikebottlenet",
    "split_label",
    "spiking_resnet50",
]
