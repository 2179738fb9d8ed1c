"""``driftline replay FILE``: send a file of events to the worker's topics, paced by their own times.

Each non-empty line of FILE is one message, sent as written: an event object (or a JSON array of
one model's events). A line with a ``label`` and no ``prediction`` goes to the feedback topic, any
other to the predictions topic, keyed by its ``model`` as the event contract asks. Events keep
their own ``ts``: with ``--speed 60`` a minute of event time goes out each second, so a first test
with 60 s windows takes seconds, not minutes of paced traffic; ``--speed max`` (the default)
sends as fast as the broker takes it, for backfills. The worker validates the events as any
others: a line it cannot take is dead-lettered there, with its reason.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import click

__all__ = ["ReplayCount", "event_time_ms", "replay_command", "replay_lines"]


@dataclass
class ReplayCount:
    predictions: int = 0
    labels: int = 0
    first_ms: int | None = None
    last_ms: int | None = None
    failed: int = 0
    error: str | None = None


def event_time_ms(ts: Any) -> int | None:
    """Epoch milliseconds of an event's ``ts`` (epoch ms or RFC 3339 with an offset), None when it is neither.

    >>> event_time_ms(1_700_000_000_000), event_time_ms("2023-11-14T22:13:20Z"), event_time_ms("soon")
    (1700000000000, 1700000000000, None)
    """
    if isinstance(ts, int) and not isinstance(ts, bool):
        return ts
    if isinstance(ts, str):
        try:
            parsed = datetime.fromisoformat(ts)
        except ValueError:
            return None
        return int(parsed.timestamp() * 1000) if parsed.tzinfo is not None else None
    return None


def _route(line: bytes) -> tuple[bool, str | None, int | None]:
    """(is feedback, model, event time) of one line; what cannot be read goes out as a prediction, unkeyed."""
    try:
        value = json.loads(line)
    except ValueError:
        return False, None, None
    event = value[0] if isinstance(value, list) and value else value
    if not isinstance(event, dict):
        return False, None, None
    model = event.get("model") if isinstance(event.get("model"), str) else None
    return "label" in event and "prediction" not in event, model, event_time_ms(event.get("ts"))


def replay_lines(lines: Iterable[bytes], producer: Any, *, predictions_topic: str, feedback_topic: str,
                 speed: float | None, clock: Callable[[], float] = time.monotonic) -> ReplayCount:
    """Produce each line; with a ``speed``, line *i* leaves ``(ts_i - ts_0) / speed`` after the first
    (a line whose time is earlier than one already sent leaves at once). Waits for the broker's acks."""
    count = ReplayCount()

    def delivered(err, msg) -> None:
        if err is not None:
            count.failed += 1
            count.error = str(err)

    started = clock()
    for line in lines:
        line = line.strip()
        if not line:
            continue
        feedback, model, ts_ms = _route(line)
        if ts_ms is not None:
            count.first_ms = ts_ms if count.first_ms is None else count.first_ms
            count.last_ms = ts_ms if count.last_ms is None else max(count.last_ms, ts_ms)
            if speed is not None:
                wait = started + (ts_ms - count.first_ms) / 1000 / speed - clock()
                while wait > 0:
                    producer.poll(min(wait, 0.1))  # serve delivery reports while waiting
                    wait = started + (ts_ms - count.first_ms) / 1000 / speed - clock()
        topic = feedback_topic if feedback else predictions_topic
        while True:
            try:
                producer.produce(topic, key=model.encode() if model else None, value=line, on_delivery=delivered)
                break
            except BufferError:  # the local queue is full: let it drain
                producer.poll(0.1)
        producer.poll(0)
        if feedback:
            count.labels += 1
        else:
            count.predictions += 1
    remaining = producer.flush(60)
    if remaining:
        count.failed += remaining
        count.error = count.error or f"{remaining} message(s) not acknowledged after 60 s"
    return count


def _speed(value: str) -> float | None:
    if value == "max":
        return None
    try:
        speed = float(value)
    except ValueError:
        speed = 0.0
    if not speed > 0:
        raise click.BadParameter(f"{value!r} is invalid, expected a number > 0 or max", param_hint="--speed")
    return speed


@click.command("replay")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False),
              help="YAML config file: the brokers and topics to send to.")
@click.option("--speed", default="max", show_default=True,
              help="Event-time seconds sent per wall-clock second (60: a minute of events a second); max: as fast "
                   "as the broker takes them (backfills).")
def replay_command(file: str, config: str, speed: str) -> None:
    """Send the events of FILE (JSON lines, each with its own ts) to the predictions and feedback topics."""
    from driftline.stream.wiring import build_traffic_producer

    from .settings_file import settings_or_exit

    pace = _speed(speed)
    settings = settings_or_exit(config, check_files=False)  # needs the brokers and topics only
    started = time.monotonic()
    with Path(file).open("rb") as lines:
        count = replay_lines(lines, build_traffic_producer(settings), speed=pace,
                             predictions_topic=settings.kafka.predictions_topic,
                             feedback_topic=settings.kafka.feedback_topic)
    span = "" if count.first_ms is None else f", {(count.last_ms - count.first_ms) / 1000:g} s of event time"
    click.echo(f"sent {count.predictions} prediction(s) to {settings.kafka.predictions_topic} and {count.labels} "
               f"label(s) to {settings.kafka.feedback_topic} in {time.monotonic() - started:.1f} s{span}")
    if count.failed:
        raise click.ClickException(f"{count.failed} message(s) not delivered: {count.error}")
