"""The one duration grammar, used by every duration key and by ``driftline demo --duration``."""

from __future__ import annotations

import pytest
from driftline.settings import DURATION, parse_duration_ms, parse_settings
from driftline.settings.errors import ConfigError

GRAMMAR = [
    ("500ms", 500),
    ("60s", 60_000),
    ("5m", 300_000),
    ("1h", 3_600_000),
    ("1d", 86_400_000),
    ("1h30m", 5_400_000),
    ("1d12h", 129_600_000),
    ("2m30s", 150_000),
    ("1s500ms", 1_500),
    ("1h 30m", 5_400_000),
    ("1.5s", 1_500),
    ("0.1s", 100),
    (" 10s ", 10_000),
    (90, 90_000),  # a bare number is seconds
    (0, 0),
    (2.5, 2_500),
    ("90", 90_000),  # also as a string (say, from ${VAR})
    ("0", 0),
]

NOT_DURATIONS = ["", "soon", "ms", "10", "-3s", "30m1h", "1h1h", "1h30", "5x", "1 h x", "h1", True, None, -1,
                 float("nan"), float("inf"), [1], {"s": 1}]
NOT_DURATIONS.remove("10")  # "10" is ten seconds


@pytest.mark.parametrize(("text", "ms"), GRAMMAR, ids=[repr(t) for t, _ in GRAMMAR])
def test_grammar(text, ms):
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize("text", NOT_DURATIONS, ids=[repr(t) for t in NOT_DURATIONS])
def test_not_a_duration(text):
    with pytest.raises(ValueError, match="is not a duration like 500ms, 60s, 5m, 1h, 1d or 1h30m"):
        parse_duration_ms(text)


def _with(value, raw):
    """``raw`` with every "1h30m" replaced by ``value``."""
    if isinstance(raw, dict):
        return {k: _with(value, v) for k, v in raw.items()}
    if isinstance(raw, list):
        return [_with(value, v) for v in raw]
    return value if raw == "1h30m" else raw


RULE = {"name": "r", "kind": "data_drift", "severity": "warning", "cooldown": "1h30m"}
ALERTMANAGER = {"type": "alertmanager", "url": "http://am:9093", "ttl": "1h30m"}
DURATION_KEYS = [
    ("kafka.poll_timeout", {"kafka": {"poll_timeout": "1h30m"}}, lambda s: s.kafka.poll_timeout_s * 1000),
    ("kafka.session_timeout", {"kafka": {"session_timeout": "1h30m"}}, lambda s: s.kafka.session_timeout_ms),
    ("clickhouse.flush_interval", {"clickhouse": {"flush_interval": "1h30m"}},
     lambda s: s.clickhouse.flush_interval_s * 1000),
    ("worker.checkpoint_interval", {"worker": {"checkpoint_interval": "1h30m"}},
     lambda s: s.worker.checkpoint_interval_s * 1000),
    ("worker.join.max_delay", {"worker": {"join": {"max_delay": "1h30m"}}}, lambda s: s.worker.join_max_delay_ms),
    ("models[0].window.size", {"models": [{"name": "m", "window": {"size": "1h30m"}}]},
     lambda s: s.models[0].window_ms),
    ("alerts.rules[0].cooldown", {"alerts": {"rules": [RULE]}}, lambda s: s.alert_rules[0].cooldown_ms),
    ("alerts.channels[0].ttl", {"alerts": {"channels": [ALERTMANAGER]}}, lambda s: s.alert_channels[0].ttl_ms),
]


@pytest.mark.parametrize(("key", "raw", "read"), DURATION_KEYS, ids=[k for k, _, _ in DURATION_KEYS])
def test_every_duration_key_takes_the_whole_grammar_and_reports_it_alike(key, raw, read):
    raw = {"models": [{"name": "m"}], **raw}
    assert read(parse_settings(raw)) == 5_400_000
    with pytest.raises(ConfigError) as info:
        parse_settings(_with("30m1h", raw))
    assert str(info.value) == f"{key}: '30m1h' is invalid, expected {DURATION}"
