"""The wiring builds every client and sink; these checks need no server."""

from __future__ import annotations

from driftline.settings import parse_settings
from driftline.stream.wiring import build_alert_delivery

MODELS = [{"name": "m", "features": {"x": "numeric"}}]


class UnusedStore:
    database = "d"


def test_no_channels_no_delivery():
    settings = parse_settings({"models": MODELS})
    assert build_alert_delivery(settings, UnusedStore(), object(), on_result=lambda c, r: None) is None


def test_kafka_channels_share_the_workers_producer():
    settings = parse_settings({"models": MODELS, "alerts": {"channels": [
        {"type": "kafka", "topic": "alerts-a", "name": "a"},
        {"type": "kafka", "topic": "alerts-b", "name": "b"},
        {"type": "webhook", "url": "https://ops.example/hook"}]}})
    producer = object()
    delivery = build_alert_delivery(settings, UnusedStore(), producer, on_result=lambda c, r: None)
    assert delivery.channel_names == ("a", "b", "webhook")
    assert [delivery.dispatcher.channels[n].producer for n in ("a", "b")] == [producer, producer]
    assert delivery.delivery_log.store.database == "d"



def test_the_consumer_refetches_a_drained_queue_without_librdkafkas_one_second_backoff():
    from confluent_kafka import Consumer
    from driftline.stream.wiring import consumer_config

    config = consumer_config(parse_settings({"models": MODELS}))
    # librdkafka's default (1000 ms) stalled a consumer that drained its queue faster than that
    # (docs/performance.md: the consume of a backlog of small events 4x slower)
    assert config["fetch.queue.backoff.ms"] <= 100
    Consumer(config).close()  # a property this librdkafka knows (>= 2.1), with a valid value
