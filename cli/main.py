"""The ``zeikan`` command line: one root Typer app, sub-commands registered by each area.

Every area (``sim``, ``streams``, ``models``, ``images``, ``bench``) owns a
``cli`` module exposing ``register(app)``. Errors derived from
:class:`zeikan.errors.ZeikanError` become one line on stderr and exit code 1.
"""

from __future__ import annotations

import importlib
import sys

import typer

from zeikan.errors import ZeikanError

app = typer.Typer(
    name="zeikan",
    help="Streaming risk targeting for customs cargo.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

COMMAND_MODULES: tuple[str, ...] = (
    "zeikan.cli.kafka",
    "zeikan.sim.cli",
    "zeikan.cli.pipeline",
    "zeikan.models.cli",
    "zeikan.cli.images",
    "zeikan.ui.cli",
)
"""Modules whose ``register(app)`` adds their commands to the root app."""

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    """Entry point of the ``zeikan`` script."""
    try:
        app()
    except ZeikanError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
