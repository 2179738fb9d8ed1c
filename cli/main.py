"""``driftline`` command line: run, check-config, migrate, baseline, demo (topics, replay, report, retention, versions beside)."""

from __future__ import annotations

import click
from driftline.settings.models import TASKS

from .settings_file import settings_or_exit

__all__ = ["main"]


@click.group()
@click.version_option(package_name="driftline")
def main() -> None:
    """driftline: drift, performance and alerts for models in production."""


@main.command("check-config")
@click.argument("config", type=click.Path(dir_okay=False))
def check_config(config: str) -> None:
    """Validate CONFIG and the references it names; exit 0, or 2 with one line per problem."""
    settings = settings_or_exit(config, references=True)
    click.echo(f"{config}: ok ({len(settings.models)} model(s), {len(settings.alert_channels)} alert channel(s))")
    for note in settings.notes:
        click.echo(f"note: {note}")


@main.command()
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False), help="YAML config file.")
@click.option("--datadir", default=".driftline/faust", show_default=True, help="Faust data directory, created with its parents (relative to the working directory).")
@click.option("--loglevel", default="info", show_default=True)
@click.option("--processes", default=1, show_default=True, type=click.IntRange(1, 256),
              help="Worker processes of the consumer group on this host, each on its own core; "
                   "child i listens on metrics.port + i, with its data in DATADIR/worker-i.")
@click.option("--worker-index", default=None, type=click.IntRange(0, 255), hidden=True,
              help="Set by --processes for each child: its web port is metrics.port + this.")
def run(config: str, datadir: str, loglevel: str, processes: int, worker_index: int | None) -> None:
    """Run the worker: consume predictions and feedback, detect drift, alert."""
    import dataclasses
    import sys

    settings = settings_or_exit(config, references=True)
    if processes > 1:
        from .processes import run_processes

        # Once, before the children: N workers migrating a fresh database at once would race
        # (18.16 has no ADD COLUMN IF NOT EXISTS). Each child then finds nothing to apply.
        _migrate_or_exit(settings)
        sys.exit(run_processes(config, datadir, loglevel, processes))

    import faust
    from driftline.status import register_status_pages
    from driftline.stream.app import create_app

    if worker_index and settings.metrics.port:
        settings = dataclasses.replace(
            settings, metrics=dataclasses.replace(settings.metrics, port=settings.metrics.port + worker_index))
    app, runtime = create_app(settings, datadir=datadir)
    register_status_pages(app, runtime)
    worker = faust.Worker(app, loglevel=loglevel, redirect_stdouts=False)
    worker.execute_from_commandline()


@main.command()
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False))
def migrate(config: str) -> None:
    """Apply pending ClickHouse schema migrations."""
    applied = _migrate_or_exit(settings_or_exit(config, check_files=False))  # needs the store only
    click.echo("applied: " + (", ".join(f"{m.version:04d}_{m.name}" for m in applied) or "nothing (up to date)"))


def _migrate_or_exit(settings) -> list:
    from driftline.sinks.migrations import migrate as apply
    from driftline.stream.wiring import build_settings_store

    try:
        store = build_settings_store(settings)
        try:
            return apply(store)
        finally:
            store.close()
    except Exception as exc:  # noqa: BLE001 - report any store error as one line
        raise click.ClickException(str(exc)) from exc


@main.command()
@click.option("--data", required=True, type=click.Path(exists=True, dir_okay=False), help="CSV, Parquet or JSONL.")
@click.option("--model", required=True, help="Model name (in the config, when one is given).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Profile JSON to write.")
@click.option("--config", "config", type=click.Path(dir_okay=False),
              help="Take the model's features and task from this config; without it every column of the file "
                   "is a feature (numeric when all its values are numbers) but prediction, score and the "
                   "event fields.")
@click.option("--task", type=click.Choice(TASKS), default=None,
              help="Without --config: the model's task, which says how prediction is tested "
                   "[default: binary_classification, as in a config].")
@click.option("--positive-label", default="1", show_default=True,
              help="Without --config: the positive class (for the CBPE calibration of `score`/`label` columns).")
@click.option("--window-events", "window_events", type=click.IntRange(1), multiple=True,
              help="Calibrate the `threshold: auto` tests (the config's, or the defaults) for windows of about "
                   "this many events now, and save the calibration with the profile (repeatable).")
def baseline(data: str, model: str, out: str, config: str | None, task: str | None, positive_label: str,
             window_events: tuple[int, ...]) -> None:
    """Build a reference profile from a dataset for `reference: {profile: ...}`.

    The profile holds what the worker tests: the features and, when DATA has them, prediction and
    score, with the kinds the worker uses for the model's task.

    With `score` and `label` columns (and optionally `prediction`) a classifier's profile also
    carries the calibration that estimates its performance before labels arrive (CBPE); with
    `prediction` and `label` a regression model's profile carries its loss model (DLE)."""
    from driftline.detectors import DriftSuite
    from driftline.stream.reference_estimators import with_estimators
    from driftline.stream.reference_files import infer_kinds, profile_from_file, read_columns

    positive: object = positive_label
    if config:
        settings = settings_or_exit(config, check_files=False)  # the profile it names may be the one written now
        spec = settings.model(model)
        if spec is None:
            raise click.BadParameter(f"{model!r} is not in {config} (models: {', '.join(m.name for m in settings.models)})")
        if task is not None and task != spec.task:
            raise click.BadParameter(f"{task!r} differs from the task of {model!r} in {config} ({spec.task})",
                                     param_hint="--task")
        kinds, task, positive, drift = dict(spec.features), spec.task, spec.positive_label, spec.drift
    else:
        kinds, task, drift = infer_kinds(data), task or "binary_classification", None
    try:
        profile = with_estimators(profile_from_file(data, kinds, task=task), data, task, positive,
                                  lambda: read_columns(data, kinds))
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    fits = DriftSuite(profile, drift).calibrate(window_events) if window_events else 0
    profile.save(out)
    shown = {**kinds, **{name: kind for name, kind in profile.kinds.items() if name not in kinds}}
    click.echo(f"wrote {out}: model {model} ({task}), {profile.n} rows, "
               + ", ".join(f"{name} ({kind})" for name, kind in shown.items())
               + (f"; CBPE calibration on {profile.cbpe.n} scored, labelled rows" if profile.cbpe else "")
               + (f"; DLE loss model on {profile.dle.n} labelled rows" if profile.dle else "")
               + (f"; {fits} calibration fits" if fits else ""))
    if "prediction" not in profile.kinds:
        click.echo(f"note: {data} has no prediction column: versions monitored against this profile get no "
                   "prediction-drift tests", err=True)


def _register_commands() -> None:
    from driftline.demo.cli import demo

    from .ops import retention_command
    from .replay import replay_command
    from .report import report_command
    from .topics import topics_command
    from .versions import versions_command

    main.add_command(demo)
    main.add_command(retention_command)
    main.add_command(replay_command)
    main.add_command(report_command)
    main.add_command(topics_command)
    main.add_command(versions_command)


_register_commands()
