"""Data-parallel training (torch DDP) over the processes torchrun starts.

    torchrun --nproc-per-node 4 -m sbn train ...                      # 4 GPUs of one machine
    torchrun --nnodes 2 --nproc-per-node 8 --rdzv-backend c10d \\
             --rdzv-endpoint head:29400 -m sbn train ...              # 2 machines x 8 GPUs

Each process finds its rank in the environment torchrun sets (RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR, MASTER_PORT), takes GPU ``LOCAL_RANK`` (NCCL) or, with
``--device cpu``, the CPU (gloo: how the tests run two ranks on one machine). Every rank
draws the same global batch and keeps its share (``sbn.data.loader.Shard``); tdBN takes
its statistics over all ranks (``sbn.train_sync_norm``); DDP averages the gradients. So
``--batch-size`` is the global batch and a run on N ranks computes what one process
computes on the whole batch, up to float summation order (tested with 2 gloo ranks).
Rank 0 alone writes the checkpoint, in the single-process format; ``--resume`` reads it
on every rank (the output folder must be shared between machines).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from sbn.data.loader import Shard
from sbn.errors import ConfigError

ENVIRONMENT = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
LAUNCH = "start it as: torchrun --nproc-per-node N -m sbn train ..."


@dataclass(frozen=True)
class Ranks:
    """Where this process sits in a run; the default is a single process."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def main(self) -> bool:
        """The rank that writes files and prints."""
        return self.rank == 0

    @property
    def parallel(self) -> bool:
        return self.world_size > 1

    @property
    def shard(self) -> Shard:
        return Shard(self.rank, self.world_size)


def ranks_from_environment(env: Mapping[str, str] | None = None) -> Ranks:
    """This process's ``Ranks`` from torchrun's variables; a single process when none is set.

    A partial or inconsistent set (a hand-made launch gone wrong) is a ConfigError.
    """
    env = os.environ if env is None else env
    present = [k for k in ENVIRONMENT if k in env]
    if not present:
        return Ranks()
    missing = [k for k in ENVIRONMENT if k not in env]
    if missing:
        raise ConfigError(
            f"a data-parallel launch sets {', '.join(ENVIRONMENT)}; {', '.join(missing)} missing: {LAUNCH}"
        )
    try:
        rank, local, world = (int(env[k]) for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE"))
    except ValueError:
        raise ConfigError(
            f"RANK, LOCAL_RANK and WORLD_SIZE must be integers, got "
            f"{env['RANK']!r}, {env['LOCAL_RANK']!r}, {env['WORLD_SIZE']!r}"
        ) from None
    if world < 1 or not 0 <= rank < world or not 0 <= local <= rank:
        raise ConfigError(
            f"inconsistent launch: RANK {rank}, LOCAL_RANK {local}, WORLD_SIZE {world}: {LAUNCH}"
        )
    return Ranks(rank, local, world)


def rank_device(ranks: Ranks, device: torch.device, requested: str | None) -> torch.device:
    """The device of this rank: GPU ``LOCAL_RANK`` on a GPU run, the CPU otherwise."""
    if not ranks.parallel or device.type != "cuda":
        return device
    if requested is not None and ":" in requested:
        raise ConfigError(
            f"--device {requested}: under torchrun each process takes GPU "
            f"LOCAL_RANK; give --device cuda (or auto)"
        )
    count = torch.cuda.device_count()
    if ranks.local_rank >= count:
        raise ConfigError(
            f"LOCAL_RANK {ranks.local_rank} but this machine has {count} GPU(s): "
            f"--nproc-per-node must not exceed the GPUs"
        )
    return torch.device("cuda", ranks.local_rank)


@contextlib.contextmanager
def process_group(ranks: Ranks, device: torch.device, timeout_s: float = 1800):
    """Join (and on exit leave) the run's process group; nothing for a single process."""
    if not ranks.parallel:
        yield
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    try:
        dist.init_process_group(
            backend, rank=ranks.rank, world_size=ranks.world_size, timeout=timedelta(seconds=timeout_s)
        )
    except (RuntimeError, ValueError) as exc:
        where = f"{os.environ.get('MASTER_ADDR')}:{os.environ.get('MASTER_PORT')}"
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(
            f"rank {ranks.rank} could not join the {backend} process group at {where} ({first[:200]})"
        ) from None
    try:
        yield
    finally:
        dist.destroy_process_group()


def wrap(model: torch.nn.Module, ranks: Ranks, device: torch.device) -> torch.nn.Module:
    """``model`` under DDP when the run is parallel; ``model`` itself otherwise.

    No buffer broadcast per forward: the synchronised tdBN keeps the running statistics
    equal on every rank already, and a broadcast would cost a collective per forward.
    """
    if not ranks.parallel:
        return model
    from torch.nn.parallel import DistributedDataParallel

    # a 1x1 kernel's gradient from a channels-last convolution has strides [C, 1, C, C]
    # against its bucket's [C, 1, 1, 1]: the same bytes (only size-1 dimensions differ),
    # yet DDP warns on every rank that it "may impair performance"
    warnings.filterwarnings(
        "ignore",
        message=r"(?s)Grad strides do not match bucket view strides.*grad\.sizes\(\) = \[\d+, \d+, 1, 1\]",
    )

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids, **_no_buffer_broadcast())


def _no_buffer_broadcast() -> dict[str, bool]:
    """torch 2.14 calls it ``forward_sync_buffers``; before (the device machine's torch
    2.11) ``broadcast_buffers=False``, which also skips the one broadcast at the start: not
    needed, every rank builds the same buffers from the same seed or checkpoint."""
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    if "forward_sync_buffers" in inspect.signature(DistributedDataParallel.__init__).parameters:
        return {"forward_sync_buffers": False}
    return {"broadcast_buffers": False}


def sum_over_ranks(values: list[float], ranks: Ranks, device: torch.device) -> list[float]:
    """``values`` summed over all ranks (float64), unchanged for a single process."""
    if not ranks.parallel:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def barrier(ranks: Ranks) -> None:
    if ranks.parallel:
        dist.barrier()
