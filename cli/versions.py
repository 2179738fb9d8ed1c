"""``driftline versions``: the lifecycle of each model version, and changing it by hand.

``driftline versions --config F [--model M]`` lists every version the store knows (the
``model_versions`` table): its state (``active``, ``canary``, ``shadow``, ``promoted``,
``rolled_back``, ``deactivated``), who or what set it and why, and when the worker first and
last saw its predictions. ``driftline versions --config F set MODEL VERSION STATE --reason TEXT``
records a change made by hand (or by a deployment script once a rollback really happened);
running workers adopt it within seconds, and a ``rolled_back`` or ``deactivated`` version that
keeps receiving predictions then raises ``rollback_not_effective``.

Registered on the main group in :mod:`driftline.cli.main`.
"""

from __future__ import annotations

import getpass
import time
from datetime import UTC, datetime

import click
from driftline.sinks.lifecycle import STATES

from .settings_file import settings_or_exit

__all__ = ["versions_command"]


def _when(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S") if seconds > 0 else "-"


def _open_store(config: str):
    from driftline.stream.wiring import build_settings_store

    settings = settings_or_exit(config)
    try:
        store = build_settings_store(settings)
        store.use_database()
    except Exception as exc:  # noqa: BLE001 - report any store error as one line
        raise click.ClickException(f"cannot open the store: {exc}") from exc
    return settings, store


@click.group("versions", invoke_without_command=True)
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False), help="YAML config file.")
@click.option("--model", default=None, help="Only this model's versions.")
@click.pass_context
def versions_command(ctx: click.Context, config: str, model: str | None) -> None:
    """List model versions: lifecycle state, who set it and why, first and last seen."""
    ctx.obj = {"config": config, "model": model}
    if ctx.invoked_subcommand is not None:
        return
    from driftline.sinks.lifecycle import version_summaries

    settings, store = _open_store(config)
    models = [m.name for m in settings.models if model in (None, m.name)]
    if model is not None and not models:
        raise click.BadParameter(f"{model!r} is not a configured model", param_hint="--model")
    try:
        rows = version_summaries(store, models)
    except Exception as exc:  # noqa: BLE001
        raise click.ClickException(f"cannot read model_versions (run `driftline migrate`?): {exc}") from exc
    finally:
        store.close()
    if not rows:
        click.echo("no versions recorded yet")
        return
    header = ("MODEL", "VERSION", "STATE", "CHANGED AT (UTC)", "CHANGED BY", "FIRST SEEN", "LAST SEEN", "REASON")
    table = [header] + [(r.model, r.version, r.state, _when(r.changed_at_s), r.changed_by, _when(r.first_seen_s),
                         _when(r.last_seen_s), r.reason[:80]) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1])


@versions_command.command("set")
@click.argument("model")
@click.argument("version")
@click.argument("state", type=click.Choice(STATES))
@click.option("--reason", required=True, help="Why (shown by `driftline versions` and in alerts).")
@click.option("--by", "changed_by", default=None, help="Who changed it [default: cli:<user>].")
@click.pass_context
def set_command(ctx: click.Context, model: str, version: str, state: str, reason: str,
                changed_by: str | None) -> None:
    """Set a version's lifecycle STATE (running workers adopt it within seconds)."""
    from driftline.sinks.lifecycle import set_version_state

    settings, store = _open_store(ctx.obj["config"])
    if settings.model(model) is None:
        store.close()
        raise click.BadParameter(f"{model!r} is not a configured model", param_hint="MODEL")
    try:
        record = set_version_state(store, model, version, state, reason=reason,
                                   changed_by=changed_by or f"cli:{getpass.getuser()}", now_s=int(time.time()))
    except Exception as exc:  # noqa: BLE001
        raise click.ClickException(f"cannot write model_versions (run `driftline migrate`?): {exc}") from exc
    finally:
        store.close()
    click.echo(f"{model}/{version}: {record.state} (by {record.changed_by}, {_when(record.changed_at_ms // 1000)} UTC)")
