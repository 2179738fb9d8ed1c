"""Experiments in the hot path: arms, windows, verdicts, lifecycle, alerts, checkpoints (no servers)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from driftline.settings import parse_settings
from driftline.stream.processor import BatchOutput, Processor

from tests.integration.traffic import START_MS

NOW_MS = START_MS + 3_600_000


# Drift is not the subject: one calibrated numeric test instead of the default's three (their
# fits were most of these tests' time).
DRIFT = {"numeric": [{"type": "wasserstein", "threshold": "auto"}]}


def config(**experiment) -> dict:
    return {
        "models": [{"name": "credit", "task": "binary_classification", "features": {"x": "numeric", "c": "categorical"},
                    "reference": {"warmup_events": 500}, "window": {"size": "10s", "idle_close": "3s"},
                    "drift": DRIFT},
                   {"name": "price", "task": "regression", "features": {"x": "numeric"},
                    "reference": {"warmup_events": 500}, "window": {"size": "10s", "idle_close": "3s"},
                    "drift": DRIFT}],
        "experiments": [{"name": "canary", "model": "credit", "champion": "v1", "challengers": ["v2"],
                         "min_sample": 100, **experiment}],
    }


def traffic(n: int, *, accuracy=(0.9, 0.9), share=0.2, latency=(20.0, 20.0), seed=0, model="credit",
            shadow=False, variant=None) -> tuple[list[bytes], list[bytes]]:
    """``n`` requests, 100 per second of event time; labels 2 s later. ``shadow``: both versions
    score every request (``request_id`` shared); otherwise ``share`` of them go to v2."""
    rng = np.random.default_rng(seed)
    predictions, feedback = [], []
    for i in range(n):
        ts = START_MS + i * 10
        label = int(rng.random() < 0.5)
        x = float(rng.normal())
        arms = ("v1", "v2") if shadow else ("v2" if rng.random() < share else "v1",)
        same = rng.random()
        for version in arms:
            k = 0 if version == "v1" else 1
            right = same < accuracy[k] if shadow else rng.random() < accuracy[k]
            event = {"event_id": f"{model}-{i}-{version}", "model": model, "version": version, "ts": ts,
                     "features": {"x": x, "c": "a"}, "prediction": label if right else 1 - label,
                     "latency_ms": float(rng.lognormal(np.log(latency[k]), 0.3)), "request_id": f"r{i}"}
            if variant and version == "v2":
                event["variant"] = variant
            predictions.append(json.dumps(event).encode())
            feedback.append(json.dumps({"event_id": event["event_id"], "model": model, "ts": ts + 2000,
                                        "label": label}).encode())
    return predictions, feedback


def run(cfg: dict, preds: list[bytes], fb: list[bytes], *, split: int | None = None):
    processor = Processor(parse_settings(cfg))
    state = processor.new_partition(0)
    out = BatchOutput()
    batches = [(lo, preds[lo:lo + 500], fb[max(0, lo - 400):lo + 100]) for lo in range(0, len(preds), 500)]
    fed_fb = 0
    for lo, p, _ in batches:
        if split is not None and lo == split:
            pending = state.join.pending_rows()
            state = processor.restore_partition(state.snapshot(), lambda *args, rows=pending: rows)
        f = fb[fed_fb:max(fed_fb, lo - 200)]
        fed_fb += len(f)
        processor.process(state, [(0, lo + i, v, 0) for i, v in enumerate(p)],
                          [(0, fed_fb - len(f) + i, v, 0) for i, v in enumerate(f)], NOW_MS, out)
        processor.close_windows(state, NOW_MS, out)
    processor.process(state, [], [(0, fed_fb + i, v, 0) for i, v in enumerate(fb[fed_fb:])], NOW_MS, out)
    processor.close_windows(state, NOW_MS + 3_600_000, out)
    return state, out


def verdicts(out) -> list[tuple[int, str]]:
    return [(r.window_start_ms, r.evaluation.verdict) for _, r in out.experiments]


def test_a_worse_canary_is_rolled_back_once_with_its_action_and_lifecycle():
    preds, fb = traffic(8000, accuracy=(0.92, 0.70))
    state, out = run(config(), preds, fb)
    final = [v for _, v in verdicts(out)]
    assert final[-1] == "rollback" and "promote" not in final
    changes = [r for _, r in out.experiments if r.evaluation.changed]
    assert len(changes) == 1 and changes[0].evaluation.primary.interval.upper < 0
    (alert,) = [a for a in out.alerts if a.kind == "experiment"]
    assert (alert.action, alert.status, alert.severity, alert.version) == ("rollback", "firing", "critical", "v2")
    assert alert.dedup_key == "credit/v2/experiment/canary"
    assert alert.window_start_ms == changes[0].window_start_ms
    assert alert.evidence["verdict"] == "rollback" and alert.evidence["upper"] < 0
    v2 = state.lifecycle.state("credit", "v2")
    assert (v2.state, v2.changed_by, v2.changed_at_ms) == ("rolled_back", "verdict:canary",
                                                           changes[0].window_end_ms)
    assert state.lifecycle.state("credit", "v1").state == "active"
    assert {(r.version, r.state) for r in out.versions} >= {("v1", "active"), ("v2", "canary"), ("v2", "rolled_back")}


def test_an_identical_canary_continues():
    preds, fb = traffic(8000, accuracy=(0.9, 0.9), seed=1)
    state, out = run(config(), preds, fb)
    assert {v for _, v in verdicts(out)} == {"continue"}
    assert not [a for a in out.alerts if a.kind == "experiment"]
    assert state.lifecycle.state("credit", "v2").state == "canary"


def test_a_latency_guardrail_rolls_back_with_equal_accuracy():
    preds, fb = traffic(8000, accuracy=(0.9, 0.9), latency=(20.0, 40.0), seed=2)
    _, out = run(config(guardrails=[{"metric": "latency_p95_ms", "max_ratio": 1.2}]), preds, fb)
    decided = [r for _, r in out.experiments if r.evaluation.changed]
    assert [r.evaluation.verdict for r in decided] == ["rollback"]
    (g,) = decided[0].evaluation.guardrails
    assert g.breached and g.interval.lower > 1.2 and 1.7 < g.interval.estimate < 2.3
    assert "latency_p95_ms" in decided[0].evaluation.reason
    assert not decided[0].evaluation.primary.interval.below(0)  # accuracy did not decide it


def test_a_restore_mid_stream_gives_the_same_verdicts():
    preds, fb = traffic(6000, accuracy=(0.92, 0.80), seed=3)
    _, straight = run(config(), preds, fb)
    _, resumed = run(config(), preds, fb, split=3000)
    assert verdicts(resumed) == verdicts(straight)
    assert [a.alert_id for a in resumed.alerts if a.kind == "experiment"] == \
           [a.alert_id for a in straight.alerts if a.kind == "experiment"]


def test_shadow_versions_are_compared_pairwise_by_request():
    preds, fb = traffic(3000, accuracy=(0.9, 0.85), shadow=True, seed=4)
    _, out = run(config(mode="shadow"), preds, fb)
    results = [r for _, r in out.experiments]
    assert all(r.evaluation.paired for r in results if r.evaluation.primary.evaluated)
    decided = [r for r in results if r.evaluation.changed]
    assert [r.evaluation.verdict for r in decided] == ["rollback"]
    paired_n = decided[0].evaluation.primary.n_challenger
    _, unpaired = run(config(mode="shadow", pairing="unpaired"), preds, fb)
    later = [r for _, r in unpaired.experiments if r.evaluation.changed]
    # The unpaired comparison of the same data needs more requests, if it decides at all.
    assert not later or later[0].evaluation.primary.n_challenger > paired_n


def test_a_challenger_by_variant():
    preds, fb = traffic(6000, accuracy=(0.92, 0.70), seed=5, variant="canary")
    cfg = config(challengers=[{"variant": "canary"}])
    state, out = run(cfg, preds, fb)
    decided = [r for _, r in out.experiments if r.evaluation.changed]
    assert [(r.challenger, r.evaluation.verdict) for r in decided] == [("variant:canary", "rollback")]
    assert state.lifecycle.state("credit", "v2").state == "rolled_back"


def test_rollback_not_effective_while_the_rolled_back_version_keeps_getting_traffic():
    preds, fb = traffic(12_000, accuracy=(0.92, 0.60), seed=6)
    _, out = run(config(rollback_grace="20s"), preds, fb)
    firing = [a for a in out.alerts if a.kind == "rollback_not_effective" and a.status == "firing"]
    assert firing and firing[0].version == "v2" and firing[0].dedup_key == "credit/v2/rollback_not_effective"
    decided = next(r for _, r in out.experiments if r.evaluation.changed)
    assert firing[0].window_start_ms >= decided.window_end_ms + 20_000


@pytest.mark.parametrize("bad, message", [
    ({"metric": "mae"}, "experiments[0].metric: 'mae' is invalid, expected a metric of a binary_classification model"),
    ({"model": "nope"}, "experiments[0].model: 'nope' is invalid, expected the name of a configured model"),
    ({"guardrails": [{"metric": "missing_rate", "max_ratio": 1.5}]},
     "experiments[0].guardrails[0].max_ratio: 1.5 is invalid, expected max_increase or max_decrease for this metric"),
    ({"challengers": ["v1"]}, "experiments[0].challengers: ['v1'] is invalid, expected arms different from each "
                              "other and from the champion"),
    ({"actions": {"rollback": "explode"}}, "experiments[0].actions.rollback: 'explode' is invalid, expected one of: "
                                           "notify, retrain, deactivate, rollback, promote"),
])
def test_experiment_config_problems_name_the_key(bad, message):
    from driftline.settings import ConfigError

    with pytest.raises(ConfigError) as err:
        parse_settings(config(**bad))
    assert message in str(err.value).splitlines()
