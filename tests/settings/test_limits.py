"""``worker.event_time``, ``worker.limits`` and ``worker.versions``: defaults, the retention link, one error format."""

from __future__ import annotations

import pytest
from driftline.settings import (
    ConfigError,
    EventLimits,
    EventTimeBounds,
    VersionLimits,
    WorkerSettings,
    parse_settings,
)

DAY_MS = 86_400_000
MODEL = {"name": "credit", "features": {"income": "numeric", "age": "numeric"}}


def worker(worker=None, retention=None, model=MODEL) -> WorkerSettings:
    raw = {"models": [model]}
    if worker is not None:
        raw["worker"] = worker
    if retention is not None:
        raw["retention"] = retention
    return parse_settings(raw).worker


def problems(**raw) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_settings({"models": [MODEL], **raw})
    return str(info.value).splitlines()


def test_defaults_admit_a_replay_of_the_retained_raw_events_and_a_day_ahead():
    w = worker()
    assert w.event_time == EventTimeBounds(max_age_ms=37 * DAY_MS, max_future_ms=DAY_MS)  # 30d retention + 7d
    assert w.limits == EventLimits(event_id=256, model=256, version=128, feature_name=256, value=1024,
                                   variant=128, segment=256)
    assert w.versions == VersionLimits(max_per_model=20, retire_after_ms=7 * DAY_MS)


def test_the_default_oldest_age_follows_the_raw_event_retention():
    assert worker(retention={"raw_events": "90d"}).event_time.max_age_ms == 97 * DAY_MS
    assert worker(retention={"raw_events": 0}).event_time.max_age_ms is None  # kept forever: no age bound
    # Set explicitly, it is what it says; 0 is no bound.
    assert worker({"event_time": {"max_age": "400d"}}, retention={"raw_events": "14d"}).event_time.max_age_ms \
        == 400 * DAY_MS
    assert worker({"event_time": {"max_age": 0, "max_future": "5m"}}).event_time == EventTimeBounds(None, 300_000)


def test_limits_and_versions_are_read():
    w = worker({"limits": {"event_id": 64, "value": 10}, "versions": {"max_per_model": 3, "retire_after": "1h"}})
    assert (w.limits.event_id, w.limits.value, w.limits.version) == (64, 10, 128)
    assert w.versions == VersionLimits(3, 3_600_000)


def test_bad_values_are_reported_in_the_one_format():
    assert problems(worker={"event_time": {"max_age": "old", "max_future": -1, "when": 1},
                            "limits": {"event_id": 0, "name": 5, "value": "big"},
                            "versions": {"max_per_model": 0, "retire_after": "soon"}}) == [
        "worker.event_time.when: 1 is invalid, expected a known key: max_age, max_future",
        "worker.event_time.max_age: 'old' is invalid, expected a duration like 500ms, 60s, 5m, 1h, 1d or 1h30m "
        "(a bare number is seconds)",
        "worker.event_time.max_future: -1 is invalid, expected a duration like 500ms, 60s, 5m, 1h, 1d or 1h30m "
        "(a bare number is seconds)",
        "worker.limits.name: 5 is invalid, expected a known key: event_id, model, version, feature_name, value, "
        "variant, segment",
        "worker.limits.event_id: 0 is invalid, expected an integer in [1, 1048576]",
        "worker.limits.value: 'big' is invalid, expected an integer in [1, 1048576]",
        "worker.versions.max_per_model: 0 is invalid, expected an integer in [1, 10000]",
        "worker.versions.retire_after: 'soon' is invalid, expected a duration like 500ms, 60s, 5m, 1h, 1d or 1h30m "
        "(a bare number is seconds)",
    ]


def test_a_configured_name_over_its_limit_is_a_problem_not_a_stream_of_dead_letters():
    lines = problems(worker={"limits": {"model": 4, "feature_name": 3}})
    assert lines == ["models[0].name: 'credit' is invalid, expected a name of at most 4 bytes (worker.limits.model)",
                     "models[0].features.income: 'income' is invalid, expected a feature name of at most 3 bytes "
                     "(worker.limits.feature_name)"]


def test_a_boolean_feature_kind_is_accepted():
    s = parse_settings({"models": [{"name": "loan", "features": {"has_cosigner": "boolean", "amount": "numeric"}}]})
    assert dict(s.models[0].features) == {"has_cosigner": "boolean", "amount": "numeric"}
    lines = problems(models=[{"name": "m", "features": {"x": "bool"}}])
    assert lines == ["models[0].features.x: 'bool' is invalid, expected one of: numeric, categorical, boolean"]


def test_a_multivariate_check_needs_two_numeric_features_at_config_time():
    # Before, the PCA failed when the warm-up ended, and took the worker down with it.
    lines = problems(models=[{"name": "m", "features": {"x": "numeric", "c": "categorical"},
                              "multivariate": {"type": "pca_reconstruction"}}])
    assert lines == ["models[0].multivariate: {'type': 'pca_reconstruction'} is invalid, expected a model with at "
                     "least 2 numeric features"]
