"""How a training run executes, as opposed to what it computes (``TrainSettings``).

Device, memory layout, LIF kernel and ranks may differ between a run and its ``--resume``
(a run started on a GPU may finish on a CPU): the checkpoint holds only CPU tensors in the
model's default layout, so it never depends on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from sbn.train_ddp import Ranks
from sbn.train_fused_lif import use_lif_kernel
from sbn.train_sync_norm import sync_norms, unsync_norms


@dataclass(frozen=True)
class Runtime:
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    channels_last: bool = False  # NHWC convolutions: faster on tensor-core GPUs, measure first
    lif: str = "eager"  # "fused": sbn.train_fused_lif
    ranks: Ranks = field(default_factory=Ranks)

    def prepare(self, model: torch.nn.Module) -> torch.nn.Module:
        """``model`` moved to the device and set up for this runtime (in place)."""
        use_lif_kernel(model, self.lif)
        if self.ranks.parallel:
            sync_norms(model)
        model.to(self.device)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        return model

    def release(self, model: torch.nn.Module) -> torch.nn.Module:
        """Undo ``prepare``: the model's own modules, default layout, on the CPU (what the
        exporter, the energy probes and the simulators expect)."""
        use_lif_kernel(model, "eager")
        unsync_norms(model)
        return model.to("cpu").to(memory_format=torch.contiguous_format)

    def inputs(self, images: torch.Tensor) -> torch.Tensor:
        """A batch in the layout the model's first convolution wants."""
        if self.channels_last:
            return images.contiguous(memory_format=torch.channels_last)
        return images

    def describe(self) -> dict:
        """For the run's summary."""
        from sbn.device import device_name

        return {
            "device": device_name(self.device),
            "channels_last": self.channels_last,
            "lif": self.lif,
            "world_size": self.ranks.world_size,
        }


def cpu_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state dict as contiguous CPU tensors (safetensors stores bytes in that layout,
    so a GPU- or channels-last-trained checkpoint is the same file as a CPU one)."""
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}
