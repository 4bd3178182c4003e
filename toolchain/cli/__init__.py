"""The ``sbn`` command line: a thin layer over the library.

Each subcommand lives in its own module and is imported only when invoked, so that
``sbn --help`` stays fast (torch and Lava take seconds to import). Errors the user can
cause (``SbnError`` and bad arguments) and errors of the machine (``OSError``: a full or
read-only disk, a path too long) print one line and exit with code 1. Ctrl-C and SIGTERM
unwind the command like an exception, so that temporary files are removed and locks
released, and exit with code 130.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from sbn import __version__
from sbn.errors import SbnError
from sbn.interrupts import interrupts_raise

#: subcommand name -> "module:attribute" of its click command
COMMANDS = {
    "bits": "sbn.cli.bits:bits",
    "channel": "sbn.cli.channel:channel",
    "demo": "sbn.cli.demo:demo",
    "energy": "sbn.cli.energy:energy",
    "export": "sbn.cli.export:export",
    "map": "sbn.cli.map:map_command",
    "quantize": "sbn.cli.quantize:quantize_command",
    "sweep": "sbn.cli.sweep:sweep",
    "sim": "sbn.cli.sim:sim",
    "train": "sbn.cli.train:train",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str):
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sbn")
def cli() -> None:
    """SpikeBottleNet toolchain: train, export to NIR, map and simulate on Lava, profile."""


class _OncePerMessage(logging.Filter):
    """The library logs a warning where it arises; when two backends meet the same graph,
    the user reads it once."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message in self.seen:
            return False
        self.seen.add(message)
        return True


class _EchoHandler(logging.Handler):
    """``warning: ...`` on whatever stderr is now (tests swap it per run)."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"{record.levelname.lower()}: {record.getMessage()}", err=True)


def _show_warnings() -> None:
    """The library's warnings on stderr as ``warning: ...`` lines, each once per command."""
    logger = logging.getLogger("sbn")
    for old in [h for h in logger.handlers if isinstance(h, _EchoHandler)]:
        logger.removeHandler(old)
    handler = _EchoHandler(logging.WARNING)
    handler.addFilter(_OncePerMessage())
    logger.addHandler(handler)


def run(command: click.Command, args: list[str] | None = None, prog: str = "sbn") -> None:
    """Run ``command`` turning user errors into one line on stderr and exit code 1."""
    _show_warnings()
    with interrupts_raise():
        _run(command, args, prog)


def _run(command: click.Command, args: list[str] | None, prog: str) -> None:
    try:
        command.main(args=args, prog_name=prog, standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:  # bare `sbn`: its help, as --help gives it
        click.echo(exc.ctx.get_help())
    except click.exceptions.Abort:  # click's form of Ctrl-C and SIGTERM (KeyboardInterrupt)
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:  # bad arguments: click's message, on one line
        message = exc.format_message().replace("\n", " ")
        click.echo(f"error: {message}", err=True)
        sys.exit(1)
    except SbnError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except OSError as exc:  # the machine's refusal, not a bug of ours: say what and where
        from sbn.fileio import describe_os_error

        click.echo(f"error: {describe_os_error(exc)}", err=True)
        sys.exit(1)


def main() -> None:
    run(cli)


def _alias(name: str):
    def entry() -> None:
        run(LazyGroup.get_command(cli, None, name), prog=f"sbn-{name}")

    return entry


export_main = _alias("export")
map_main = _alias("map")
