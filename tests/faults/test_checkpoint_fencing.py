"""A worker the real group coordinator (Tansu) has fenced out does not write its checkpoint.

The worker stalls longer than ``max.poll.interval.ms`` (a long flush, a GC pause): librdkafka
leaves the group and the partition goes to another member, but the worker still lists it in
its assignment until its next poll. Its next checkpoint commits the offsets first; the group
coordinator refuses them (unknown member), and the checkpoint row is not written.
"""

from __future__ import annotations

import time
import uuid

import pytest
from driftline.settings import parse_settings
from driftline.sinks.checkpoints import unpack_seq
from driftline.sinks.migrations import migrate
from driftline.stream import wiring

from tests.support.kafka import produce

pytestmark = pytest.mark.integration

EVENT = b'{"event_id":"e%d","model":"m","version":"1","ts":1700000000000,"features":{"x":1},"prediction":0}'


def test_a_worker_fenced_out_of_the_group_does_not_write_its_checkpoint(broker, tmp_path):
    run = uuid.uuid4().hex[:8]
    topics = {"predictions": f"p-{run}", "feedback": f"f-{run}", "alerts": f"a-{run}", "dead_letter": f"d-{run}"}
    broker.create_topics(list(topics.values()), partitions=1)
    settings = parse_settings({
        "models": [{"name": "m", "features": {"x": "numeric"}}],
        "kafka": {"bootstrap_servers": broker.bootstrap_servers, "group_id": f"g-{run}", "session_timeout": "4s",
                  "topics": topics, "options": {"max.poll.interval.ms": 6000}},
        "clickhouse": {"url": f"chdb://{tmp_path}/store"}})
    store = wiring.build_store(settings.clickhouse.url)
    migrate(store)
    produce(broker.bootstrap_servers, topics["predictions"], [("m", EVENT % i) for i in range(10)])
    loop = wiring.build_ingest_loop(settings, store, wiring.build_producer(settings), wiring.build_metrics())
    checkpoints = loop.metrics.checkpoints
    try:
        loop.consumer.subscribe(list(loop.topics), on_assign=loop.rebalance.on_assign,
                                on_revoke=loop.rebalance.on_revoke)
        deadline = time.monotonic() + 60
        while loop.states.get(0) is None or loop.states[0].offsets.get(topics["predictions"]) != 10:
            assert time.monotonic() < deadline, "the worker never read the events"
            loop.step()
        loop.checkpoints.checkpoint()
        assert checkpoints.labels("ok")._value.get() == 1
        rows = store.execute("SELECT seq FROM checkpoints")
        assert sorted(unpack_seq(seq) for (seq,) in rows) == [(1, 0), (1, 1)]  # the claim, then the checkpoint

        time.sleep(9)  # no poll for longer than max.poll.interval.ms: librdkafka leaves the group
        assert 0 in {tp.partition for tp in loop.consumer.assignment()}  # it does not know yet
        loop.checkpoints.checkpoint()
        assert checkpoints.labels("fenced")._value.get() == 1 and checkpoints.labels("ok")._value.get() == 1
        assert store.execute("SELECT count() FROM checkpoints") == [(2,)]  # nothing written
    finally:
        loop.consumer.close()
        store.close()
