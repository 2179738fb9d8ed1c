"""Checkpoints of a partition: the versioned JSON document, restored exactly, never unpickled.

The contract of tests/detectors/test_contract.py one level up: a seeded stream is fed to a
partition, its state goes through the full encode/decode mid-stream, and everything the
restored partition reports afterwards (every WindowReport, every alert) equals what an
uninterrupted run reports.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import replace

import numpy as np
import pytest
from driftline.detectors import CBPEReference, LossModel, ReferenceProfile
from driftline.settings import parse_settings
from driftline.stream.checkpoint_format import FORMAT, VERSION, decode_checkpoint
from driftline.stream.errors import CheckpointError, CheckpointTooNewError
from driftline.stream.processor import BatchOutput, Processor
from driftline.stream.replay import replay_horizon_ms

from tests.integration.traffic import START_MS, make_traffic

FEATURES = {"income": "numeric", "age": "numeric", "country": "categorical"}


def config(concept: str = "adwin", light: bool = False, **credit) -> dict:
    """Three models exercising every stateful part: in-stream reference and PCA, river detectors on
    features and on the error stream, k-of-n persistence, a label-accuracy alert rule. ``light``:
    for tests whose subject is another part (a concept detector, the performance estimates), one
    calibrated numeric test per model and one river detector on features: a third of the default's
    fits and no KSWIN, most of a run's time. The split tests run the full config."""
    cfg = {
        "models": [
            {"name": "credit", "task": "binary_classification", "features": FEATURES,
             "reference": {"warmup_events": 1000}, "window": {"size": "10s", "idle_close": "3s"},
             "drift": {"persistence": [2, 3]}, "concept": {"detector": concept},
             "multivariate": {"type": "pca_reconstruction", "chunk_size": 200},
             "streaming": [{"feature": "income", "type": "adwin"}, {"feature": "age", "type": "kswin"},
                           {"feature": "income", "type": "page_hinkley"}], **credit},
            {"name": "price", "task": "regression", "features": {"sqft": "numeric", "rooms": "numeric"},
             "reference": {"warmup_events": 1000}, "window": {"size": "10s", "idle_close": "3s"},
             "concept": {"detector": "page_hinkley"}},
            {"name": "fraud", "task": "binary_classification",
             "features": {"amount": "numeric", "merchant": "categorical"},
             "reference": {"warmup_events": 1000}, "window": {"size": "10s", "idle_close": "3s"},
             "concept": {"detector": "ddm"}},
        ],
        "alerts": {"rules": [
            {"name": "drift", "kind": "data_drift", "severity": "warning", "action": "notify"},
            {"name": "prediction", "kind": "prediction_drift", "severity": "warning", "action": "notify"},
            {"name": "concept", "kind": "concept_drift", "severity": "critical", "action": "retrain"},
            {"name": "accuracy", "kind": "performance", "severity": "critical", "action": "notify",
             "when": {"metric": "accuracy", "op": "<", "value": 0.9}, "for_windows": 2},
        ]},
    }
    if light:
        for model in cfg["models"]:
            model["drift"] = {**model.get("drift", {}), "numeric": [{"type": "wasserstein", "threshold": "auto"}]}
        cfg["models"][0]["streaming"] = [{"feature": "income", "type": "adwin"}]
    return cfg


def batches(n_per_model: int = 4000) -> list[tuple[int, list, list]]:
    """What one partition delivers, one batch per second of processing time: predictions as they
    happen, early labels before them, the other labels two seconds after their prediction."""
    t = make_traffic(n_per_model)
    arrivals = [(json.loads(v)["ts"], 0, v) for _, v in t.predictions]
    arrivals += [(START_MS - 1, 1, v) for _, v in t.feedback_early]
    arrivals += [(json.loads(v)["ts"] + 1500, 1, v) for _, v in t.feedback_late]
    arrivals.sort(key=lambda a: (a[0] // 1000, a[1]))
    out, offsets = [], [0, 0]
    for a in arrivals:
        second = a[0] // 1000
        if not out or out[-1][0] != (second + 1) * 1000:
            out.append(((second + 1) * 1000, [], []))
        out[-1][1 + a[1]].append((0, offsets[a[1]], a[2], 0))
        offsets[a[1]] += 1
    return out


BATCHES = batches()


def run(processor: Processor, split: int | None = None, restore=None) -> tuple[list, list]:
    """Feed every batch; at ``split``, replace the state with ``restore(state)``."""
    state = processor.new_partition(0)
    out = BatchOutput()
    for i, (now, predictions, feedback) in enumerate(BATCHES):
        if i == split:
            state = restore(state)
        processor.process(state, predictions, feedback, now, out)
        processor.close_windows(state, now, out)
    processor.close_windows(state, BATCHES[-1][0] + 3_600_000, out)  # idle: close everything
    return out.reports, out.alerts


def through_bytes(processor: Processor):
    """Restore from the encoded document, the join refilled as driftline.sinks.join_state would."""
    def restore(state):
        for monitor in state.monitors.values():  # strict JSON: NaN would silently become null
            json.dumps(monitor.snapshot(), allow_nan=False)
        pending = state.join.pending_rows()
        return processor.restore_partition(state.snapshot(), lambda *args: pending)
    return restore


def same(a: tuple[list, list], b: tuple[list, list]) -> None:
    reports_a, alerts_a = a
    reports_b, alerts_b = b
    assert len(reports_a) == len(reports_b)
    for x, y in zip(reports_a, reports_b, strict=True):
        assert repr(x) == repr(y)  # exact, NaN included
    assert [x.to_dict() for x in alerts_a] == [y.to_dict() for y in alerts_b]


@pytest.fixture(scope="module")
def straight():
    return run(Processor(parse_settings(config())))


# 5: reference warm-up and PCA rows in progress; 23: mid-window, labels pending, drift history;
# 36: after the shift, alerts firing and persistence under way.
@pytest.mark.parametrize("split", [5, 23, 36])
def test_restored_partition_reports_exactly_what_an_uninterrupted_one_does(straight, split, monkeypatch):
    processor = Processor(parse_settings(config()))
    for name in ("loads", "load", "Unpickler"):  # a checkpoint never goes through pickle
        monkeypatch.setattr(pickle, name, _no_pickle)
    resumed = run(processor, split, through_bytes(processor))
    same(straight, resumed)
    reports, alerts = straight
    assert any(r.concept for r in reports) and any(d.drifted for r in reports for d in r.drift)
    assert {a.kind for a in alerts} >= {"data_drift", "performance"}


@pytest.mark.parametrize("concept", ["adwin", "ddm", "eddm", "hddm_a", "hddm_w", "page_hinkley"])
def test_every_concept_detector_continues_identically(concept):
    settings = parse_settings(config(concept, light=True))
    same(run(Processor(settings)), run(Processor(settings), 23, through_bytes(Processor(settings))))


def test_a_configured_reference_is_not_stored_but_checked():
    settings = parse_settings(config(light=True))
    rows = make_traffic(2000, seed=11).predictions
    columns = {name: [json.loads(v)["features"][name] for _, v in rows if b'"credit"' in v] for name in FEATURES}
    reference = ReferenceProfile.from_columns(FEATURES, columns)
    processor = Processor(settings, references={"credit": reference})
    same(run(processor), run(processor, 23, through_bytes(processor)))

    state = processor.new_partition(0)
    out = BatchOutput()
    for now, predictions, feedback in BATCHES[:23]:
        processor.process(state, predictions, feedback, now, out)
    doc = decode_checkpoint(state.snapshot())
    credit = next(m for m in doc["monitors"] if m["model"] == "credit")
    assert set(credit["reference"]) == {"source", "digest"}  # the profile itself stays in the config
    # A different reference file since the checkpoint: the open windows' drift state restarts.
    other = ReferenceProfile.from_columns(FEATURES, {k: v[::-1][:1500] for k, v in columns.items()})
    restored = Processor(settings, references={"credit": other}).restore_partition(state.snapshot())
    monitor = restored.monitors[("credit", "v1")]
    assert monitor.reference is other
    assert all(w.sketch is None and w.n > 0 for w in monitor.windows.values())


def test_the_document_is_versioned_json_with_the_partition_envelope():
    processor = Processor(parse_settings(config()))
    state = processor.new_partition(0)
    out = BatchOutput()
    for now, predictions, feedback in BATCHES[:23]:
        processor.process(state, predictions, feedback, now, out)
        processor.close_windows(state, now, out)
    doc = json.loads(state.snapshot())
    assert (doc["format"], doc["version"], doc["partition"]) == (FORMAT, VERSION, 0)
    assert set(doc) == {"format", "version", "partition", "offsets", "monitors", "join", "engines", "experiments",
                        "lifecycle", "lifecycle_engine"}
    assert doc["offsets"] == state.offsets
    assert sorted((m["model"], m["version"]) for m in doc["monitors"]) == sorted(state.monitors)
    assert doc["join"] == {"expired_predictions": 0, "expired_feedback": 0, "evicted": 0}
    assert {(e["model"], e["version"]) for e in doc["engines"]} == set(state.engines)
    assert len(state.snapshot()) < 200_000  # 3 model versions, reference samples and reservoirs included


def test_settings_changed_since_the_checkpoint_win():
    processor = Processor(parse_settings(config()))
    state = processor.new_partition(0)
    for now, predictions, feedback in BATCHES[:23]:
        processor.process(state, predictions, feedback, now, BatchOutput())
    blob = state.snapshot()
    changed = config("ddm", streaming=[{"feature": "age", "type": "adwin", "params": {"delta": 0.01}}])
    changed["models"] = changed["models"][:2]  # fraud removed from the config
    restored = Processor(parse_settings(changed)).restore_partition(blob)
    assert {m for m, _ in restored.monitors} == {"credit", "price"}
    assert {m for m, _ in restored.engines} <= {"credit", "price"}
    credit = restored.monitors[("credit", "v1")]
    assert credit.concept.name == "ddm" and credit.concept.n == 0  # another detector: fresh
    (feature, detector), = credit.streaming
    assert (feature, detector.name, detector.n) == ("age", "adwin", 0)
    assert credit.reference is not None and credit.windows  # the rest of the state is kept
    same_settings = Processor(parse_settings(config())).restore_partition(blob).monitors[("credit", "v1")]
    assert same_settings.concept.n == state.monitors[("credit", "v1")].concept.n > 0


def test_a_newer_version_is_refused_naming_both_versions():
    processor = Processor(parse_settings(config()))
    blob = processor.new_partition(7).snapshot().replace(b'"version":2', b'"version":3', 1)
    with pytest.raises(CheckpointTooNewError) as info:
        processor.restore_partition(blob, lambda *a: ([], []))
    assert str(info.value).startswith("checkpoint of partition 7 is format version 3, but this build reads "
                                      "versions 1 to 2")


@pytest.mark.parametrize("blob", [
    b"", b"not a checkpoint", b"[]", b'{"format": "driftline.checkpoint", "version": 2}',
    b'{"format": "something-else", "version": 2, "partition": 1}',
    b'{"format": "driftline.checkpoint", "version": 2, "partition": 1, "offsets": {}, "monitors": '
    b'[{"model": "credit"}], "join": {}, "engines": []}',
])
def test_a_malformed_document_is_refused(blob):
    with pytest.raises(CheckpointError):
        Processor(parse_settings(config())).restore_partition(blob)


class Boom:
    """What an attacker who can insert a row into ``checkpoints`` would store."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.path}",))


def test_a_version_1_pickle_is_never_loaded_but_rebuilt_from_the_tables(tmp_path):
    marker = tmp_path / "pwned"
    blob = pickle.dumps({"partition": 0, "monitors": Boom(marker)}, protocol=pickle.HIGHEST_PROTOCOL)
    settings = parse_settings(config())
    processor = Processor(settings)
    calls = []

    def history(partition, offsets, horizon_ms, warmup):
        calls.append((partition, offsets, horizon_ms, warmup))
        return iter(()), iter(())

    with pytest.raises(CheckpointError, match="rebuilt from the event tables"):
        processor.restore_partition(blob)  # no way to rebuild: refused, not loaded
    state = processor.restore_partition(blob, lambda *a: ([], []), partition=3,
                                        offsets={"driftline.predictions": 40, "driftline.feedback": 9},
                                        history_loader=history)
    assert not marker.exists()
    assert calls == [(3, {"driftline.predictions": 40, "driftline.feedback": 9}, replay_horizon_ms(settings),
                      {"credit": 1000, "price": 1000, "fraud": 1000})]
    assert state.partition == 3 and state.offsets == {"driftline.predictions": 40, "driftline.feedback": 9}
    # 10 s windows; the longest memory is the accuracy rule's for_windows (2) and persistence n (3).
    assert replay_horizon_ms(settings) == 10_000 * (3 + 3)


def _no_pickle(*args, **kwargs):
    raise AssertionError("pickle used while restoring a checkpoint")


def test_cbpe_estimates_continue_identically_after_a_restore():
    """A configured reference with scores and labels: every prediction window reports CBPE
    estimates, and a restored partition reports exactly the same ones."""
    settings = parse_settings(config(light=True))
    t = make_traffic(2000, seed=11)
    rows = [json.loads(v) for _, v in t.predictions if b'"credit"' in v]
    rows = [r for r in rows if isinstance(r.get("features"), dict) and "score" in r and "income" in r["features"]]
    labels = {e["event_id"]: e["label"] for e in (json.loads(v) for _, v in t.feedback_early + t.feedback_late)}
    labelled = [r for r in rows if r["event_id"] in labels]
    cbpe = CBPEReference.fit("binary_classification", np.array([r["score"] for r in labelled]),
                             np.array([str(r["prediction"]) for r in labelled], dtype=object),
                             np.array([str(labels[r["event_id"]]) for r in labelled], dtype=object),
                             positive_label="1")
    columns = {name: [r["features"].get(name) for r in rows] for name in FEATURES}
    reference = replace(ReferenceProfile.from_columns(FEATURES, columns), cbpe=cbpe)
    processor = Processor(settings, references={"credit": reference})
    straight = run(processor)
    same(straight, run(processor, 23, through_bytes(processor)))
    estimated = [m for r in straight[0] if r.model == "credit" for m in r.metrics if m.name == "estimated_accuracy"]
    realized = [m for r in straight[0] if r.model == "credit" for m in r.metrics if m.name == "accuracy"]
    assert len(estimated) >= 3 and realized
    # The traffic's labels agree with the prediction 90% of the time, whatever the shift.
    assert all(abs(m.value - 0.9) < 0.06 for m in estimated)

    # Turned off since the checkpoint: the restored open windows estimate nothing either.
    state, out = processor.new_partition(0), BatchOutput()
    for now, predictions, feedback in BATCHES[:23]:
        processor.process(state, predictions, feedback, now, out)
    assert any(w.cbpe is not None for w in state.monitors[("credit", "v1")].windows.values())
    off = Processor(parse_settings(config(estimate_performance=False, light=True)), references={"credit": reference})
    restored = off.restore_partition(state.snapshot())
    assert all(w.cbpe is None for w in restored.monitors[("credit", "v1")].windows.values())


def test_dle_estimates_continue_identically_after_a_restore():
    """A regression model's configured reference with a DLE loss model: the same contract."""
    settings = parse_settings(config(light=True))
    t = make_traffic(2000, seed=11)
    rows = [json.loads(v) for _, v in t.predictions if b'"price"' in v]
    rows = [r for r in rows if isinstance(r.get("features"), dict) and {"sqft", "rooms"} <= set(r["features"])]
    labels = {e["event_id"]: e["label"] for e in (json.loads(v) for _, v in t.feedback_early + t.feedback_late)}
    labelled = [r for r in rows if r["event_id"] in labels]
    columns = {name: np.array([float(r["features"][name]) for r in labelled]) for name in ("sqft", "rooms")}
    dle = LossModel.fit(columns, np.array([float(r["prediction"]) for r in labelled]),
                        np.array([float(labels[r["event_id"]]) for r in labelled]))
    reference = replace(ReferenceProfile.from_columns({"sqft": "numeric", "rooms": "numeric"}, columns), dle=dle)
    processor = Processor(settings, references={"price": reference})
    straight = run(processor)
    same(straight, run(processor, 23, through_bytes(processor)))
    estimated = [m for r in straight[0] if r.model == "price" for m in r.metrics if m.name == "estimated_mae"]
    assert len(estimated) >= 3 and all(m.value > 0 for m in estimated)
