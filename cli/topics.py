"""``driftline topics``: create the Kafka topics a worker uses, and say what it needs from the cluster.

Registered on the main group in :mod:`driftline.cli.main`. Idempotent: run it again and it reports
what exists. The topics, consumer groups and their ACLs are :mod:`driftline.stream.topics`'s.
"""

from __future__ import annotations

import sys

import click

__all__ = ["topics_command"]


@click.command("topics")
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False), help="YAML config file.")
@click.option("--partitions", type=click.IntRange(1, 10_000), default=12, show_default=True,
              help="Partitions of each topic created (predictions and feedback need the same count; Faust's "
                   "leader topic has 1). Existing topics are left as they are.")
@click.option("--replication", type=click.IntRange(1, 100), default=None,
              help="Replication factor of the topics created [default: the broker's default.replication.factor].")
@click.option("--timeout", type=click.FloatRange(0.1, 600), default=30.0, show_default=True,
              help="Seconds to wait for the broker.")
def topics_command(config: str, partitions: int, replication: int | None, timeout: float) -> None:
    """Create the topics of CONFIG's worker that are missing; list every topic and consumer group it uses,
    with the ACLs its principal needs."""
    from driftline.stream.topics import consumer_groups, ensure_topics, worker_topics
    from driftline.stream.wiring import build_admin

    from .settings_file import settings_or_exit

    settings = settings_or_exit(config, check_files=False)  # needs the brokers only: before any reference exists
    topics = worker_topics(settings, partitions)
    outcomes = ensure_topics(build_admin(settings), topics, replication=replication or -1, timeout_s=timeout)
    width = max(len(o.topic.name) for o in outcomes)
    for o in outcomes:
        click.echo(f"{o.status:<8} {o.topic.name:<{width}}  {o.partitions} partition{'s' if o.partitions != 1 else ''}, "
                   f"replication {o.replication}  {o.topic.purpose}")
    groups = consumer_groups(settings)
    click.echo("consumer groups: " + "; ".join(f"{g.name} ({g.purpose})" for g in groups))
    read = [t.name for t in topics if "READ" in t.operations]
    write = [t.name for t in topics if "WRITE" in t.operations]
    click.echo(f"ACLs the worker's principal needs: READ and DESCRIBE on topics {', '.join(read)}; WRITE and "
               f"DESCRIBE on topics {', '.join(write)}; READ on groups {', '.join(g.name for g in groups)}")
    k = settings.kafka
    counts = {o.topic.name: o.partitions for o in outcomes}
    if counts[k.predictions_topic] != counts[k.feedback_topic]:
        click.echo(f"{k.predictions_topic} has {counts[k.predictions_topic]} partitions and {k.feedback_topic} "
                   f"{counts[k.feedback_topic]}: they need the same count, so that a model's predictions and labels "
                   "meet on one worker", err=True)
        sys.exit(1)
