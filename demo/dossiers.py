"""The end of ``driftline demo``: a governance dossier of each model, written into ``.driftline/``.

The same document ``driftline report`` writes (HTML and JSON), over everything the demo's
worker stored, so the README's sample dossier is one command away.
"""

from __future__ import annotations

from pathlib import Path

import click
from driftline.report import ReportError, write_dossier
from driftline.settings import Settings

__all__ = ["write_demo_dossiers"]


def write_demo_dossiers(store, settings: Settings, directory: Path) -> list[Path]:
    """Write ``directory/<model>-dossier.html`` (and ``.json``) for every model with stored windows and
    print each path; a model without windows is skipped with one line saying why."""
    written = []
    if store is None:
        return written
    for model in settings.models:
        html = directory / f"{model.name}-dossier.html"
        try:
            write_dossier(store, settings, model.name, html, json_path=html.with_suffix(".json"))
        except ReportError as exc:
            click.echo(f"no dossier for {model.name}: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - the demo is over; a dossier failure is one line, not a traceback
            click.echo(f"no dossier for {model.name}: {exc}")
            continue
        click.echo(f"governance dossier of {model.name}: {html} (open it in a browser; "
                   f"`driftline report --help` for more)")
        written.append(html)
    return written
