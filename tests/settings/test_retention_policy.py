"""``retention:`` into a :class:`RetentionPolicy` (applied by ``driftline.sinks.retention``)."""

from __future__ import annotations

import pytest
from driftline.settings import ConfigError, RetentionPolicy, parse_retention
from driftline.settings.retention import RAW_TABLES, RETENTION_TABLES
from driftline.sinks.retention import TABLE_TIME_COLUMNS


def test_policy_defaults():
    policy = RetentionPolicy()
    assert {t: policy.days(t) for t in ("predictions", "feedback", "dead_letters", "window_metrics",
                                        "drift_results", "alerts", "predictions_hourly", "drift_daily")} == {
        "predictions": 30, "feedback": 30, "dead_letters": 30, "window_metrics": 365,
        "drift_results": 365, "alerts": 365, "predictions_hourly": 365, "drift_daily": 365}
    assert parse_retention(None) == policy


def test_the_policy_names_exactly_the_tables_the_store_has():
    assert set(RETENTION_TABLES) == set(TABLE_TIME_COLUMNS) and RAW_TABLES <= set(RETENTION_TABLES)


@pytest.mark.parametrize(("value", "days"), [("14d", 14), (14, 14), ("14", 14), ("48h", 2), ("1d24h", 2), (0, 0)])
def test_days_are_durations_in_whole_days_and_a_bare_number_is_days(value, days):
    assert parse_retention({"raw_events": value}).raw_events_days == days


@pytest.mark.parametrize(("raw", "line"), [
    ({"tables": {"prediction": 7}},
     "retention.tables.prediction: 7 is invalid, expected a known key: predictions, feedback, dead_letters"),
    ({"raw_events": "two weeks"},
     "retention.raw_events: 'two weeks' is invalid, expected a whole number of days such as 30d (or 30)"),
    ({"aggregates": "36h"}, "retention.aggregates: '36h' is invalid, expected a whole number of days such as 30d"),
    ({"raw_events": -1}, "retention.raw_events: -1 is invalid, expected a whole number of days such as 30d"),
    ({"tables": {"alerts": True}}, "retention.tables.alerts: True is invalid, expected a whole number of days"),
    ({"tables": [1]}, "retention.tables: [1] is invalid, expected a mapping"),
    ({"raw": 1}, "retention.raw: 1 is invalid, expected a known key: raw_events, aggregates, tables"),
    ([], "retention: [] is invalid, expected a mapping"),
])
def test_problems(raw, line):
    with pytest.raises(ConfigError) as info:
        parse_retention(raw)
    assert str(info.value).startswith(line)


def test_constructed_policies_are_checked_too():
    with pytest.raises(ValueError, match=r"^retention.tables.nope: 'nope' is invalid, expected one of: predictions"):
        RetentionPolicy(tables={"nope": 3})
    with pytest.raises(ValueError, match=r"^retention.raw_events: -1 is invalid, expected a whole number of days"):
        RetentionPolicy(raw_events_days=-1)
