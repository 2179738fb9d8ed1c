"""The config file a command names, read into settings, or the command ends listing its problems."""

from __future__ import annotations

import sys

import click
from driftline.settings import ConfigError, Settings, load_settings

__all__ = ["EXIT_CONFIG", "settings_or_exit"]

EXIT_CONFIG = 2


def settings_or_exit(path: str, *, references: bool = False, check_files: bool = True) -> Settings:
    """The settings in ``path``; else one line per problem on stderr and exit status 2.

    ``check_files=False``: the files the config names need not exist yet (``driftline baseline``
    writes one). ``references``: also read every configured reference (profile or file) as the worker will, so
    a profile of other kinds or a file without a feature's column is a problem here, in the same
    format, not a crash seconds into the worker's startup."""
    try:
        settings = load_settings(path, check_files=check_files)
    except ConfigError as exc:
        _exit(exc.problems)
    if references:
        from driftline.stream.reference_files import reference_problems

        problems = reference_problems(settings)
        if problems:
            _exit(problems)
    return settings


def _exit(problems) -> None:
    for problem in problems:
        click.echo(str(problem), err=True)
    sys.exit(EXIT_CONFIG)
