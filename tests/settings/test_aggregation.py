"""``worker.aggregation``: per_partition by default; two_stage refuses what it cannot merge, in the house format."""

from __future__ import annotations

import pytest
from driftline.settings import ConfigError, parse_settings

MODEL = {"name": "credit", "features": {"income": "numeric"}, "reference": {"profile": "credit.json"}}


def test_the_default_is_per_partition_and_two_stage_is_opt_in():
    default = parse_settings({"models": [MODEL]})
    assert (default.worker.aggregation, default.kafka.partials_topic) == ("per_partition", "driftline.partials")
    s = parse_settings({"models": [MODEL], "worker": {"aggregation": "two_stage", "aggregation_wait": "30s"},
                        "kafka": {"topics": {"partials": "p"}}})
    assert (s.worker.aggregation, s.worker.aggregation_wait_ms, s.kafka.partials_topic) == ("two_stage", 30_000, "p")


def test_an_unknown_aggregation_is_a_problem():
    with pytest.raises(ConfigError, match=r"^worker.aggregation: 'global' is invalid, expected one of: "
                                          r"per_partition, two_stage$"):
        parse_settings({"models": [MODEL], "worker": {"aggregation": "global"}})


def test_two_stage_refuses_what_depends_on_arrival_order():
    warm = {"name": "warm", "features": {"x": "numeric"}, "reference": {"warmup_events": 100},
            "streaming": [{"feature": "x", "type": "adwin"}]}
    with pytest.raises(ConfigError) as info:
        parse_settings({"models": [MODEL, warm], "worker": {"aggregation": "two_stage"}})
    lines = str(info.value).splitlines()
    assert lines[0].startswith("models[1].reference: 'warmup_events' is invalid, expected a reference path or profile")
    assert lines[1].startswith("models[1].streaming: ['x'] is invalid, expected no streaming detectors")
    assert len(lines) == 2
