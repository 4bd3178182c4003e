"""Helpers for options that belong to one mode of a command."""

from __future__ import annotations

from collections.abc import Iterable

import click


def given_options(ctx: click.Context, names: Iterable[str]) -> list[str]:
    """The flags (``--samples``, ...) of the parameters among ``names`` that the user gave on
    the command line (or through the environment), as opposed to their defaults."""
    wanted = set(names)
    return [
        p.opts[0]
        for p in ctx.command.params
        if p.name in wanted and ctx.get_parameter_source(p.name) != click.core.ParameterSource.DEFAULT
    ]


def run_time_steps(graph, manifest: dict | None, given: int | None, where: str) -> int:
    """T of a run on ``graph`` (from ``where``): what its export or its metadata states;
    ``--time-steps`` only where neither states one. A different value is refused: the payload
    sizes the manifest records and the dynamics the model was trained with are T's."""
    from sbn.errors import ConfigError, SimulationError
    from sbn.targets.lava.split import time_steps_of

    stated = (manifest or {}).get("time_steps")
    if stated is None:
        try:
            stated = time_steps_of(graph, None)
        except SimulationError:  # states none: --time-steps must say
            return time_steps_of(graph, given)
    if given is not None and int(given) != int(stated):
        raise ConfigError(
            f"--time-steps {given}: {where} states T = {stated}; "
            "--time-steps is for graphs whose metadata states none"
        )
    return int(stated)
