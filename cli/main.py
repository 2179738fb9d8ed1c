"""``driftline`` command line: run, check-config, migrate, baseline, demo."""

from __future__ import annotations

import click

from .settings_file import settings_or_exit

__all__ = ["main"]


@click.group()
@click.version_option(package_name="driftline")
def main() -> None:
    """driftline: drift, performance and alerts for models in production."""


@main.command("check-config")
@click.argument("config", type=click.Path(dir_okay=False))
def check_config(config: str) -> None:
    """Validate CONFIG; exit 0, or 2 with one line per problem."""
    settings = settings_or_exit(config)
    click.echo(f"{config}: ok ({len(settings.models)} model(s), {len(settings.alert_channels)} alert channel(s))")


@main.command()
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False), help="YAML config file.")
@click.option("--datadir", default=".driftline/faust", show_default=True, help="Faust data directory, created with its parents (relative to the working directory).")
@click.option("--loglevel", default="info", show_default=True)
def run(config: str, datadir: str, loglevel: str) -> None:
    """Run the worker: consume predictions and feedback, detect drift, alert."""
    import faust
    from driftline.status import register_status_pages
    from driftline.stream.app import create_app

    settings = settings_or_exit(config)
    app, runtime = create_app(settings, datadir=datadir)
    register_status_pages(app, runtime)
    worker = faust.Worker(app, loglevel=loglevel, redirect_stdouts=False)
    worker.execute_from_commandline()


@main.command()
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False))
def migrate(config: str) -> None:
    """Apply pending ClickHouse schema migrations."""
    from driftline.sinks.migrations import migrate as apply
    from driftline.stream.wiring import build_store

    settings = settings_or_exit(config)
    try:
        applied = apply(build_store(settings.clickhouse.url))
    except Exception as exc:  # noqa: BLE001 - report any store error as one line
        raise click.ClickException(str(exc)) from exc
    click.echo("applied: " + (", ".join(f"{m.version:04d}_{m.name}" for m in applied) or "nothing (up to date)"))


@main.command()
@click.option("--data", required=True, type=click.Path(exists=True, dir_okay=False), help="CSV, Parquet or JSONL.")
@click.option("--model", required=True, help="Model name (in the config, when one is given).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Profile JSON to write.")
@click.option("--config", "config", type=click.Path(dir_okay=False),
              help="Take the model's features from this config; without it every column of the file is "
                   "profiled, numeric when all its values are numbers.")
@click.option("--window-events", "window_events", type=click.IntRange(1), multiple=True,
              help="Calibrate the `threshold: auto` tests (the config's, or the defaults) for windows of about "
                   "this many events now, and save the calibration with the profile (repeatable).")
def baseline(data: str, model: str, out: str, config: str | None, window_events: tuple[int, ...]) -> None:
    """Build a reference profile from a dataset for `reference: {profile: ...}`."""
    from driftline.detectors import DriftSuite
    from driftline.stream.reference_files import infer_kinds, profile_from_file

    if config:
        settings = settings_or_exit(config)
        spec = settings.model(model)
        if spec is None:
            raise click.BadParameter(f"{model!r} is not in {config} (models: {', '.join(m.name for m in settings.models)})")
        kinds = dict(spec.features)
        drift = spec.drift
    else:
        kinds = infer_kinds(data)
        drift = None
    try:
        profile = profile_from_file(data, kinds)
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    fits = DriftSuite(profile, drift).calibrate(window_events) if window_events else 0
    profile.save(out)
    click.echo(f"wrote {out}: model {model}, {profile.n} rows, "
               + ", ".join(f"{name} ({kind})" for name, kind in profile.kinds.items())
               + (f"; {fits} calibration fits" if fits else ""))


def _register_commands() -> None:
    from driftline.demo.cli import demo

    from .ops import retention_command

    main.add_command(demo)
    main.add_command(retention_command)


_register_commands()
