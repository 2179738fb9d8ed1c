"""Operations commands for the ``driftline`` CLI: ``retention``.

Registered on the main group in :mod:`driftline.cli` with ``main.add_command(retention_command)``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

__all__ = ["retention_command"]


@click.command("retention")
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False), help="YAML config file.")
@click.option("--dry-run", is_flag=True, help="Print the statements without running them.")
def retention_command(config: str, dry_run: bool) -> None:
    """Apply the retention policy: TTL on ClickHouse >= 19.6, else drop expired monthly partitions."""
    from driftline.sinks.retention import apply_retention
    from driftline.stream.wiring import build_settings_store

    from .settings_file import settings_or_exit

    settings = settings_or_exit(config, check_files=False)  # needs the store only
    policy = settings.retention
    try:
        store = build_settings_store(settings)
        try:
            actions = apply_retention(store, policy, datetime.now(UTC), dry_run=dry_run)
        finally:
            store.close()
    except Exception as exc:  # noqa: BLE001 - report any store error as one line
        raise click.ClickException(str(exc)) from exc
    for action in actions:
        click.echo(("would run: " if dry_run else "ran: ") + action.sql)
    click.echo(f"retention: {len(actions)} statement(s){' (dry run)' if dry_run else ''}; "
               f"raw events {policy.raw_events_days}d, aggregates {policy.aggregates_days}d")
