"""The ``driftline`` console script and ``python -m driftline.cli``.

A :class:`~driftline.stream.errors.DriftlineError` that escapes a command ends it
with its message as one line on stderr and exit status 1, not a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click
from driftline.stream.errors import DriftlineError

from .main import main

__all__ = ["run"]


def run(command: click.Command = main, args: Sequence[str] | None = None) -> None:
    """Run ``command`` (the ``driftline`` group) on ``args`` (default: ``sys.argv[1:]``); exits."""
    try:
        command.main(args=args)
    except DriftlineError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
