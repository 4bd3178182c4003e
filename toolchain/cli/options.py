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
