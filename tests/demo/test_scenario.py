"""The demo scenario: validation names the key; generated traffic has the scheduled properties."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from driftline.demo.cli import TrafficPump, bundled_scenario, demo_settings
from driftline.demo.scenario import load_scenario, parse_scenario
from driftline.demo.traffic import TrafficGenerator
from driftline.settings import ConfigError

ROOT = Path(__file__).resolve().parents[2]
MINUTE = 60_000


def problems(raw) -> str:
    with pytest.raises(ConfigError) as info:
        parse_scenario(raw)
    return str(info.value)


@pytest.mark.parametrize("raw, key", [
    ({"changes": [{"kind": "meteor", "model": "eta", "at": "1m"}]}, "changes[0].kind"),
    ({"changes": [{"kind": "covariate_shift", "model": "fraud", "at": "1m", "feature": "x"}]}, "changes[0].model"),
    ({"changes": [{"kind": "covariate_shift", "model": "eta", "at": "1m", "feature": "city"}]}, "changes[0].feature"),
    ({"changes": [{"kind": "new_category", "model": "credit", "at": "1m", "feature": "country"}]},
     "changes[0].category"),
    ({"changes": [{"kind": "canary", "model": "credit", "at": "1m", "version": "v2", "share": 1.5}]},
     "changes[0].share"),
    ({"changes": [{"kind": "latency_regression", "model": "eta", "at": "10m", "until": "5m"}]}, "changes[0].until"),
    ({"changes": [{"kind": "latency_regression", "model": "eta", "at": "soon"}]}, "changes[0].at"),
    ({"changes": [{"kind": "concept_drift", "model": "credit", "at": "1m", "strenght": 1}]},
     "changes[0].strenght"),
    ({"models": {"credit": {"label_delay": "30s"}}}, "models.credit.label_delay"),
    ({"models": {"credit": {"share": -1}}}, "models.credit.share"),
    ({"models": {"fraud": {}}}, "models.fraud"),
    ({"rate": "fast"}, "rate"),
    ({"window": "0.1s"}, "window"),
    ({"speed": 0}, "speed"),
])
def test_validation_errors_name_the_key(raw, key):
    message = problems(raw)
    assert message.startswith(key + ":") or f"\n{key}:" in message, message


def test_every_problem_is_reported_at_once():
    message = problems({"rate": -1, "changes": [{"kind": "x", "model": "eta", "at": 0},
                                                 {"kind": "canary", "model": "credit", "at": 0}]})
    assert "rate:" in message and "changes[0].kind" in message and "changes[1].version" in message


def test_bundled_scenario_is_the_one_committed_file_and_valid():
    assert bundled_scenario().resolve() == (ROOT / "demo" / "demo-scenario.yaml").resolve()
    assert not (ROOT / "config" / "demo-scenario.yaml").exists()  # committed once
    scenario = load_scenario(bundled_scenario())
    kinds = {c.kind for c in scenario.changes}
    assert kinds == {"canary", "covariate_shift", "new_category", "latency_regression", "concept_drift"}
    settings = demo_settings(scenario, bootstrap="127.0.0.1:9092", store_url="chdb://./x", port=8000, group_id="g")
    assert [m.name for m in settings.models] == ["credit", "eta"]
    assert {r.kind for r in settings.alert_rules} >= {"data_drift", "concept_drift", "performance", "latency"}
    (canary,) = settings.experiments  # the canary is compared with v1: it ends in a rollback verdict
    assert (canary.model, canary.champion.version, canary.challengers[0].version, canary.actions["rollback"]) == (
        "credit", "v1", "v2", "rollback")
    # labels arrive up to 90 s late: windows must wait for them
    assert all(m.allowed_lateness_ms >= 90_000 for m in settings.models)
    # event time runs `speed` times faster than the wall clock: a 5-minute run ends hours ahead of it
    assert settings.worker.event_time.max_future_ms > 1000 * scenario.speed * 300  # the whole run if endless
    timed = demo_settings(scenario, bootstrap="b:1", store_url="chdb://./x", port=8000, group_id="g", duration_s=300)
    assert 1000 * scenario.speed * 300 < timed.worker.event_time.max_future_ms <= 1000 * scenario.speed * 300 + 3_600_000


def test_a_scenario_file_is_read_by_the_settings_loader_and_reported_in_the_one_format(tmp_path):
    path = tmp_path / "scenario.yaml"
    path.write_text("rate: fast\nwindow: 1h30m\nchanges:\n  - {kind: canary, model: credit, at: 1m30s, version: v1}\n")
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    assert str(info.value).splitlines() == [
        "rate: 'fast' is invalid, expected a number in [1, 1000000]",
        "changes[0].version: 'v1' is invalid, expected a version other than v1 (v1 is the stable one)",
    ]
    path.write_text("window: 1h30m\nchanges:\n  - {kind: canary, model: credit, at: 1m30s, version: v2}\n")
    scenario = load_scenario(path)  # the one duration grammar: compound durations too
    assert (scenario.window_ms, scenario.changes[0].at_ms) == (5_400_000, 90_000)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="<file>"):
        load_scenario(tmp_path / "nope.yaml")


@pytest.fixture(scope="module")
def traffic():
    """One hour of event time of the bundled scenario, with every label."""
    scenario = load_scenario(ROOT / "demo" / "demo-scenario.yaml")
    gen = TrafficGenerator(scenario, start_ms=0, run_id="t")
    events = []
    for minute in range(60):
        events.extend(gen.predictions(minute * MINUTE, (minute + 1) * MINUTE, 2000))
    labels = {e["event_id"]: e for _, e in gen.feedback_due(10**12)}
    return scenario, events, labels


def change(scenario, kind):
    return next(c for c in scenario.changes if c.kind == kind)


def test_events_are_valid_contract_events_keyed_by_model(traffic):
    from driftline.stream.events import decode_predictions

    _, events, labels = traffic
    assert len(events) == 120_000
    assert {m for m, e in events} == {"credit", "eta"} and all(m == e["model"] for m, e in events)
    messages = [(0, i, json.dumps(e).encode(), 0) for i, (_, e) in enumerate(events[:2000])]
    batch = decode_predictions(messages, "p", {"credit", "eta"}, max_bytes=10_000, max_features=50)
    assert batch.dead == [] and len(batch.events) == 2000
    assert len({e["event_id"] for _, e in events}) == len(events)
    ts = [e["ts"] for _, e in events]
    assert ts == sorted(ts)
    assert all(0 <= e["ts"] < 60 * MINUTE for _, e in events)


def test_labels_arrive_with_the_configured_delay(traffic):
    scenario, events, labels = traffic
    by_id = {e["event_id"]: e for _, e in events}
    for model, spec in scenario.models.items():
        delays = np.array([lab["ts"] - by_id[i]["ts"] for i, lab in labels.items() if lab["model"] == model])
        share = len(delays) / sum(1 for m, _ in events if m == model)
        assert spec.label_delay_ms[0] <= delays.min() and delays.max() <= spec.label_delay_ms[1]
        assert abs(share - spec.label_share) < 0.02


def test_covariate_shift_moves_the_feature_after_the_event(traffic):
    scenario, events, _ = traffic
    c = change(scenario, "covariate_shift")
    before = [e["features"][c.feature] for m, e in events if m == c.model and e["ts"] < c.at_ms]
    after = [e["features"][c.feature] for m, e in events if m == c.model and e["ts"] >= c.at_ms]
    assert np.mean(after) / np.mean(before) == pytest.approx(c.params["scale"], rel=0.05)
    other = [e["features"]["items"] for m, e in events if m == c.model and e["ts"] >= c.at_ms]
    assert np.mean(other) == pytest.approx(3.0, rel=0.05)  # only the scheduled feature moves


def test_new_category_appears_only_after_the_event(traffic):
    scenario, events, _ = traffic
    c = change(scenario, "new_category")
    new = c.params["category"]
    seen = [(e["ts"], e["features"][c.feature] == new) for m, e in events if m == c.model]
    assert not any(hit for ts, hit in seen if ts < c.at_ms)
    after = [hit for ts, hit in seen if ts >= c.at_ms]
    assert np.mean(after) == pytest.approx(c.params["share"], abs=0.02)


def accuracy(events, labels, *, version, since, until):
    hits = [e["prediction"] == labels[e["event_id"]]["label"] for m, e in events
            if m == "credit" and e["version"] == version and since <= e["ts"] < until and e["event_id"] in labels]
    return np.mean(hits), len(hits)


def test_canary_runs_beside_v1_with_lower_accuracy(traffic):
    scenario, events, labels = traffic
    c = change(scenario, "canary")
    concept = change(scenario, "concept_drift").at_ms
    versions = [e["version"] for m, e in events if m == "credit"]
    assert versions.count(c.params["version"]) / len(versions) == pytest.approx(c.params["share"], abs=0.02)
    v1, _ = accuracy(events, labels, version="v1", since=0, until=concept)
    v2, n2 = accuracy(events, labels, version=c.params["version"], since=0, until=concept)
    assert n2 > 1000 and v1 > 0.88 and v2 < 0.8 and v1 - v2 > 0.1


def test_concept_drift_drops_v1_accuracy(traffic):
    scenario, events, labels = traffic
    at = change(scenario, "concept_drift").at_ms
    before, _ = accuracy(events, labels, version="v1", since=0, until=at)
    after, n = accuracy(events, labels, version="v1", since=at, until=60 * MINUTE)
    assert n > 5000 and before > 0.88 and after < 0.78
    # the features themselves do not move: it is the label relation that changed
    income = defaultdict(list)
    for m, e in events:
        if m == "credit":
            income[e["ts"] >= at].append(e["features"]["income"])
    assert np.median(income[True]) == pytest.approx(np.median(income[False]), rel=0.03)


def test_latency_regression_only_inside_its_interval(traffic):
    scenario, events, _ = traffic
    c = change(scenario, "latency_regression")

    def p95(lo, hi):
        return np.percentile([e["latency_ms"] for m, e in events if m == c.model and lo <= e["ts"] < hi], 95)

    base, during, after = p95(0, c.at_ms), p95(c.at_ms, c.until_ms), p95(c.until_ms, 60 * MINUTE)
    assert during / base == pytest.approx(c.params["factor"], rel=0.1)
    assert after == pytest.approx(base, rel=0.1)
    assert base < 200 < during  # the demo's latency rule fires between the two


def test_generation_is_seeded():
    scenario = parse_scenario({"seed": 3})
    a = TrafficGenerator(scenario, start_ms=0, run_id="r").predictions(0, MINUTE, 500)
    b = TrafficGenerator(scenario, start_ms=0, run_id="r").predictions(0, MINUTE, 500)
    assert a == b


class FakeProducer:
    def __init__(self):
        self.sent = []

    def produce(self, topic, key, value):
        self.sent.append((topic, key.decode(), json.loads(value)))

    def poll(self, timeout):
        return 0

    def flush(self, timeout):
        return 0


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_pump_produces_rate_events_per_second_at_speed():
    scenario = parse_scenario({"models": {"credit": {"label_delay": ["1s", "2s"]}, "eta": {}}})
    gen = TrafficGenerator(scenario, start_ms=1_000_000, run_id="p")
    producer, clock = FakeProducer(), FakeClock()
    pump = TrafficPump(gen, producer, rate=1000, speed=60, clock=clock)
    pump.started_at = clock()

    class StopAfter:
        calls = 0

        def is_set(self):
            self.calls += 1
            return self.calls > 20

        def wait(self, timeout):
            clock.now += 0.1

    pump.stopping = StopAfter()
    pump._run()
    predictions = [(k, e) for t, k, e in producer.sent if t == "driftline.predictions"]
    assert len(predictions) == pytest.approx(1900, abs=2)  # 19 ticks of 0.1 s after the first, at 1000/s
    assert all(k == e["model"] for k, e in predictions)
    assert max(e["ts"] for _, e in predictions) <= 1_000_000 + 2 * 60_000  # 2 s of wall clock = 2 min
    assert any(t == "driftline.feedback" for t, _, _ in producer.sent)


def test_a_rolled_back_canary_stops_getting_traffic():
    s = parse_scenario({"changes": [{"kind": "canary", "model": "credit", "at": 0, "version": "v2", "share": 0.5}]})
    g = TrafficGenerator(s, start_ms=0)
    before = {e["version"] for _, e in g.predictions(0, 60_000, 400) if e["model"] == "credit"}
    g.end_change(s.changes[0], 60_000)
    g.end_change(s.changes[0], 90_000)  # the first end counts
    after = {e["version"] for _, e in g.predictions(60_000, 120_000, 400) if e["model"] == "credit"}
    assert before == {"v1", "v2"} and after == {"v1"}
