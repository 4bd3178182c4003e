"""Optimiser, learning-rate schedule, and the optimiser state as checkpoint tensors + JSON."""

from __future__ import annotations

import math
from typing import Any

import torch

from sbn.errors import CheckpointError
from sbn.fileio import is_finite_number, shown_json


def make_optimizer(
    model: torch.nn.Module, optimizer: str, lr: float, weight_decay: float
) -> torch.optim.Optimizer:
    if optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)


def cosine_lr(base: float, epoch: int, epochs: int) -> float:
    """Learning rate for 0-based ``epoch``: cosine from ``base`` down to 1 % of it."""
    floor = 0.01 * base
    return floor + (base - floor) * 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimiser state into safetensors-storable CPU tensors and JSON."""
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entry in state["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"{index}.{key}"] = value.detach().to("cpu", copy=True).contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def restore_optimizer(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> None:
    """Load a saved state; torch moves each tensor to its parameter's device."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    for index, values in meta.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(values)
    check_settings(optimizer, meta["param_groups"])
    try:
        optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    except (KeyError, ValueError) as exc:
        raise CheckpointError(f"optimiser state does not fit this model ({exc})") from None


def check_settings(optimizer: torch.optim.Optimizer, saved_groups: list[dict[str, Any]]) -> None:
    """CheckpointError for a saved setting (lr, momentum, betas, ...) unlike what this
    optimiser holds in kind: torch takes any value on load and fails at the first step, with
    a traceback deep in its update, on ``lr: "x"`` or ``betas: 0.9``."""
    for index, (saved, fresh) in enumerate(zip(saved_groups, optimizer.param_groups)):
        for key in sorted(saved.keys() & fresh.keys() - {"params"}):
            if not _same_kind(saved[key], fresh[key]):
                raise CheckpointError(
                    f"training.optimizer.param_groups[{index}].{key} is {shown_json(saved[key])}; this "
                    f"optimiser's is {shown_json(_plain(fresh[key]))}: a value of that kind"
                )


def is_setting(value: Any) -> bool:
    """What torch's optimisers hold per group (lr, betas, nesterov, foreach, ...), read from
    JSON; which kind each one must be is checked against the optimiser (``check_settings``)."""
    if isinstance(value, list):
        return all(map(is_finite_number, value))
    return value is None or isinstance(value, bool) or is_finite_number(value)


def _same_kind(value: Any, default: Any) -> bool:
    """Whether ``value`` (read from JSON) may stand where the optimiser holds ``default``."""
    if default is None or isinstance(default, bool):  # flags; None: torch decides
        return value is None or isinstance(value, bool) if default is None else isinstance(value, bool)
    if isinstance(default, (int, float)):
        return is_finite_number(value)
    if isinstance(default, (list, tuple)):
        return isinstance(value, list) and len(value) == len(default) and all(map(is_finite_number, value))
    return type(value) is type(default)


def _plain(value: Any) -> Any:
    """A setting as JSON writes it (tuples as lists)."""
    return list(value) if isinstance(value, tuple) else value
