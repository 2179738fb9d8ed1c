"""The config file a command names, read into settings, or the command ends listing its problems."""

from __future__ import annotations

import sys

import click
from driftline.settings import ConfigError, Settings, load_settings

__all__ = ["EXIT_CONFIG", "settings_or_exit"]

EXIT_CONFIG = 2


def settings_or_exit(path: str) -> Settings:
    """The settings in ``path``; else one line per problem on stderr and exit status 2."""
    try:
        return load_settings(path)
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(EXIT_CONFIG)
