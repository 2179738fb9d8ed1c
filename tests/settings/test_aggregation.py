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
    assert len(lines) == 1  # streaming detectors run in stage 2 on each window's mean


def test_two_stage_accepts_streaming_detectors_and_still_refuses_the_rest_with_their_reasons():
    streaming = {**MODEL, "streaming": [{"feature": "income", "type": "adwin", "params": {"clock": 1}}]}
    s = parse_settings({"models": [streaming], "worker": {"aggregation": "two_stage"}})
    assert [(d.feature, d.type) for d in s.models[0].streaming] == [("income", "adwin")]
    grouped = {**streaming, "features": {"income": "numeric", "region": "categorical"},
               "segments": {"keys": ["region"], "drift": {"features": ["income"], "reference": "segment"}}}
    with pytest.raises(ConfigError) as info:
        parse_settings({"models": [grouped], "worker": {"aggregation": "two_stage"},
                        "experiments": [{"name": "e", "model": "credit", "champion": "v1", "challengers": ["v2"]}]})
    lines = str(info.value).splitlines()
    assert [line.split(":")[0] for line in lines] == ["models[0].segments.drift.reference", "experiments"]
    assert "arrival order" in lines[0] and "not merged across partitions" in lines[1]
