"""``segments:`` and ``fairness:`` of a model: defaults, keys, combinations, drift, thresholds, problems."""

from __future__ import annotations

import pytest
from driftline.settings import ConfigError, parse_settings


def model(**extra) -> dict:
    return {"models": [{"name": "m", "features": {"income": "numeric", "channel": "categorical", "vip": "boolean"},
                        **extra}]}


def test_segments_and_fairness_are_read_with_their_defaults():
    s = parse_settings(model(segments={"keys": ["region", {"name": "vip", "source": "feature", "max_values": 2}],
                                       "max_values": 20, "combinations": [["region", "vip"]],
                                       "drift": {"features": ["income"], "reference": "segment"}},
                             fairness={"keys": ["region+vip"], "thresholds": {"mae_ratio": None},
                                       "min_group_size": 100}))
    m = s.models[0]
    assert [(k.name, k.source, k.max_values) for k in m.segments.keys] == [("region", "segment", 20),
                                                                          ("vip", "feature", 2)]
    assert m.segments.names() == ("region", "vip", "region+vip")
    assert m.segments.max_values("region+vip") == 20
    assert (m.segments.drift.features, m.segments.drift.reference, m.segments.drift.reference_events) == (
        ("income",), "segment", 1000)
    assert m.fairness.keys == ("region+vip",)
    assert m.fairness.thresholds.threshold("mae_ratio") is None
    assert m.fairness.thresholds.threshold("demographic_parity_ratio") == 0.8
    assert m.fairness.thresholds.min_group_size == 100
    assert parse_settings(model()).models[0].segments is None


@pytest.mark.parametrize(("extra", "problem"), [
    ({"segments": {"keys": []}}, "models[0].segments.keys: [] is invalid, expected a list of at least one segment key"),
    ({"segments": {"keys": [{"name": "income", "source": "feature"}]}},
     "models[0].segments.keys[0].name: 'income' is invalid, expected the name of a categorical or boolean feature"),
    ({"segments": {"keys": ["a"], "combinations": [["a", "b"]]}},
     "models[0].segments.combinations[0]: ['a', 'b'] is invalid, expected a list of at least two distinct names"),
    ({"segments": {"keys": [{"name": "a", "max_values": 0}]}},
     "models[0].segments.keys[0].max_values: 0 is invalid, expected an integer in [1, 10000]"),
    ({"segments": {"keys": ["a"]}, "fairness": {"keys": ["b"]}},
     "models[0].fairness.keys: ['b'] is invalid, expected a list of keys monitored under segments: a"),
    ({"fairness": {"keys": ["a"]}}, "expected a list of keys monitored under segments: (none configured)"),
    ({"segments": {"keys": ["a"]}, "fairness": {"keys": ["a"], "thresholds": {"parity": 0.1}}},
     "models[0].fairness.thresholds.parity: 0.1 is invalid, expected a known key: demographic_parity_difference"),
    ({"segments": {"keys": ["a"]}, "fairness": {"keys": ["a"], "confidence": 1.5}},
     "models[0].fairness.confidence: 1.5 is invalid"),
    ({"segments": {"keys": ["a"], "drift": {"features": ["nope"]}}},
     "models[0].segments.drift.features: ['nope'] is invalid, expected a list drawn from: income, channel, vip"),
])
def test_problems_name_the_key_path(extra, problem):
    with pytest.raises(ConfigError) as caught:
        parse_settings(model(**extra))
    assert problem in str(caught.value)
