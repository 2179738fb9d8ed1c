"""``driftline report``: the governance dossier of a model (or one version) over a period.

``driftline report --config F --model M [--version V] [--from T --to T] --out dossier.html
[--json dossier.json] [--pdf dossier.pdf]`` reads what the worker stored and writes a
self-contained HTML document (and its JSON, and a PDF through headless Chromium). Without
``--from``/``--to`` the period is every hour the store has windows of the model, so the same data
gives the same bytes; ``--last 7d`` is the last seven days of them, and ``--out-dir DIR`` names the
files after the model and the period (what a schedule wants). ``--verify dossier.html`` checks that a dossier's content matches the SHA-256
of its footer. Registered on the main group in :mod:`driftline.cli.main`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from .settings_file import settings_or_exit

__all__ = ["parse_time", "report_command"]


def parse_time(text: str) -> int:
    """Epoch seconds of ``2026-03-04``, ``2026-03-04T12:00``, ``2026-03-04T12:00:00Z`` (UTC unless an offset is given).

    >>> parse_time("2026-03-04"), parse_time("2026-03-04T12:00:00Z"), parse_time("2026-03-04T13:00+01:00")
    (1772582400, 1772625600, 1772625600)
    """
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not an ISO date or time such as 2026-03-04T12:00:00Z") from exc
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp())


def _stamp(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y%m%dT%H%MZ")


def _verify(path: str) -> None:
    from driftline.report.verify import verify_file

    ok, claimed, actual = verify_file(path)
    if not ok:
        raise click.ClickException(f"{path}: content SHA-256 {actual} does not match the footer's {claimed}")
    click.echo(f"{path}: ok (content SHA-256 {actual})")


@click.command("report")
@click.option("--config", "config", type=click.Path(dir_okay=False), help="YAML config file.")
@click.option("--model", help="The model to report on.")
@click.option("--version", "version", default=None, help="Only this version [default: every version].")
@click.option("--from", "since", default=None, help="Start of the period (ISO, UTC) [default: the first window].")
@click.option("--to", "until", default=None, help="End of the period, excluded [default: after the last window].")
@click.option("--last", "last", default=None,
              help="The period: this long (e.g. 7d, 24h) up to the end of the stored windows, instead of --from.")
@click.option("--out", type=click.Path(dir_okay=False), help="The HTML dossier to write.")
@click.option("--out-dir", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Instead of --out/--json: write MODEL[-VERSION]-FROM-TO.html and .json into this directory.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None, help="Also write its JSON here.")
@click.option("--pdf", "pdf_out", type=click.Path(dir_okay=False), default=None,
              help="Also print it to a PDF (needs headless Chromium).")
@click.option("--chromium", default=None, help="The Chromium executable for --pdf [default: found on the PATH].")
@click.option("--timestamp", is_flag=True, help="Write the generation time in the dossier (outside the hashed content).")
@click.option("--verify", "verify", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Check a dossier (HTML or JSON) against its SHA-256 instead of writing one.")
def report_command(config: str | None, model: str | None, version: str | None, since: str | None,
                   until: str | None, last: str | None, out: str | None, out_dir: str | None, json_out: str | None,
                   pdf_out: str | None, chromium: str | None, timestamp: bool, verify: str | None) -> None:
    """Write the governance dossier of a model: identity, reference, performance, drift, data quality,
    bias, incidents and actions, recommendations, sign-off."""
    if verify:
        _verify(verify)
        return
    for value, name in ((config, "--config"), (model, "--model"), (out or out_dir, "--out or --out-dir")):
        if not value:
            raise click.UsageError(f"{name} is required (unless --verify)")
    if last and since:
        raise click.UsageError("--last and --from both set the start of the period: give one")
    from driftline.report import ReportError, write_dossier
    from driftline.report.dossier import resolve_period
    from driftline.settings import DURATION, parse_duration_ms
    from driftline.stream.reference_files import load_reference
    from driftline.stream.wiring import build_settings_store

    settings = settings_or_exit(config)
    spec = settings.model(model)
    if spec is None:
        raise click.BadParameter(f"{model!r} is not a configured model", param_hint="--model")
    try:
        profile = load_reference(spec)  # None with a warm-up reference: the worker does not store it
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot read the reference of {model}: {exc}") from exc
    try:
        store = build_settings_store(settings)
        store.use_database()
    except Exception as exc:  # noqa: BLE001 - report any store error as one line
        raise click.ClickException(f"cannot open the store: {exc}") from exc
    generated = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if timestamp else None
    try:
        since_s, until_s = parse_time(since) if since else None, parse_time(until) if until else None
        if last or out_dir:  # the period must be known to name the files, --last counts back from its end
            try:
                span_s = parse_duration_ms(last) // 1000 if last else None
            except ValueError:
                raise click.BadParameter(f"{last!r} is invalid, expected {DURATION}", param_hint="--last") from None
            period = resolve_period(store, model, version, since_s, until_s)
            until_s = period.until_s
            since_s = max(0, until_s - span_s) if span_s else period.since_s
        if out_dir:
            stem = "-".join([model, *([version] if version else []), _stamp(since_s), _stamp(until_s)])
            out, json_out = str(Path(out_dir) / f"{stem}.html"), str(Path(out_dir) / f"{stem}.json")
        written = write_dossier(store, settings, model, out, version=version, json_path=json_out, pdf_path=pdf_out,
                                since_s=since_s, until_s=until_s, profile=profile,
                                generated_at=generated, chromium=chromium)
    except ReportError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    for path in written.paths:
        click.echo(f"wrote {path}")
    click.echo(f"content SHA-256 {written.dossier.content_sha256} ({written.dossier.content['period']['from']} to "
               f"{written.dossier.content['period']['to']})")
    if written.pdf_problem:
        click.echo(f"no PDF: {written.pdf_problem}", err=True)
        raise SystemExit(3)

