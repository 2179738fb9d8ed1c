"""The calibration gate: a window waits for its null fits (made a few per close pass) instead of
making them all inside its close, and its report is the one fitting on demand gives, to the bit."""

from __future__ import annotations

import json

import numpy as np
import pytest
from driftline.detectors import DriftSettings, DriftSuite, ReferenceProfile, WindowSketch
from driftline.settings import parse_settings
from driftline.stream.calibration_gate import FitBudget, calibrated
from driftline.stream.partials import merge_partials, take_partials
from driftline.stream.processor import BatchOutput, Processor
from driftline.stream.stage2 import WindowOwner

from tests.support.segment_traffic import config, segment_traffic

START_MS = 1_700_000_000_000
N = 1_500  # predictions per model: 15 s of warm-up (500) and windows at 10 ms a prediction
END_MS = START_MS + 3_600_000  # every window ready (idle)


def settings(models=("loans", "price"), reference="segment"):
    raw = config()
    raw["models"] = [m for m in raw["models"] if m["name"] in models]
    for m in raw["models"]:
        m["segments"]["drift"] = {"features": ["income"], "reference": reference, "min_rows": 20,
                                  **({"reference_events": 50} if reference == "segment" else {})}
        m["drift"] = {"baselines": {"previous": 1}, "accumulate": 2}
    return parse_settings(raw)


def past_deadline():
    """A budget whose deadline has passed: the pass makes its one fit and no more."""
    return FitBudget(0.0, clock=iter(range(10**9)).__next__)


def calibrations(state):
    """Every calibration the partition's monitors evaluate with (reference and segment references)."""
    cals = {}
    for monitor in state.monitors.values():
        profiles = [monitor.reference] + list(monitor.segments.drift.profiles.values())
        cals.update({id(p.calibration): p.calibration for p in profiles if p is not None})
    return list(cals.values())


def fed(processor, traffic):
    state = processor.new_partition(0)
    processor.process(state, [(0, i, v, 0) for i, (_, v) in enumerate(traffic.predictions)], [], START_MS,
                      BatchOutput())
    return state


@pytest.fixture(scope="module")
def traffic():
    return segment_traffic(N, START_MS, shift_at=N // 2)


def test_windows_wait_for_their_fits_one_per_pass_and_report_as_fitting_on_demand_does(traffic):
    on_demand = Processor(settings())  # no budget: fits on demand inside the close
    expected_state = fed(on_demand, traffic)
    expected = BatchOutput()
    on_demand.close_windows(expected_state, END_MS, expected)
    event = {**json.loads(traffic.predictions[-2][1]), "event_id": "late"}  # of the last window, after its close
    assert event["model"] == "loans"
    late = [(0, 2 * N, json.dumps(event).encode(), 0)]
    on_demand.process(expected_state, late, [], END_MS, BatchOutput())
    assert expected.reports and any(r.drift for r in expected.reports)
    assert any(m.name.startswith("drift:") for r in expected.reports for m in r.segments)

    budgets = []
    gated = Processor(settings(), fit_budget=lambda: budgets.append(past_deadline()) or budgets[-1])
    state = fed(gated, traffic)
    out = BatchOutput()
    passes = 0
    while len(out.reports) < len(expected.reports):
        before = sum(len(c) for c in calibrations(state))
        gated.close_windows(state, END_MS, out)
        passes += 1
        if passes == 1:  # sealed, not reported yet: the event is late here too
            assert not out.reports and all(m.sealed and not m.windows for m in state.monitors.values())
            gated.process(state, late, [], END_MS, BatchOutput())
            kept = sum(len(c) for c in calibrations(state))
            state = gated.restore_partition(state.snapshot())  # sealed windows come back, still closed to events
            lost = kept - sum(len(c) for c in calibrations(state))
        # Two models, one pass: one fit, made by the gate (none inside a close: the sums agree).
        assert budgets[-1].fits == sum(len(c) for c in calibrations(state)) - before
        assert passes < 2_000
    assert passes > 20 and [b.fits for b in budgets] == [1] * passes  # the windows waited, a fit a pass
    assert sum(len(c) for c in calibrations(state)) == passes - lost
    assert not [c for c in calibrations(state) if c.wanted]
    assert [repr(r) for r in out.reports] == [repr(r) for r in expected.reports]  # repr: every float's digits
    assert [m.late_events for m in state.monitors.values()] == [m.late_events for m in expected_state.monitors.values()]
    assert state.monitors[("loans", "v1")].late_events == 1


def test_a_probe_leaves_the_suite_state_as_it_was():
    rng = np.random.default_rng(3)
    columns = {"x": rng.normal(0, 1, 4000), "c": rng.choice(np.array(["a", "b", "c"], dtype=object), 4000)}
    kinds = {"x": "numeric", "c": "categorical"}

    def window(n, shift):
        w = WindowSketch(probed.reference)
        w.update({"x": rng.normal(shift, 1, n), "c": rng.choice(np.array(["a", "b", "c"], dtype=object), n)})
        return w

    drift = DriftSettings(persistence=(2, 3), accumulate=3)
    probed = DriftSuite(ReferenceProfile.from_columns(kinds, columns), drift)
    twin = DriftSuite(ReferenceProfile.from_columns(kinds, columns), drift)
    for shift in (0.0, 0.5, 0.5):
        w = window(300, shift)
        assert probed.evaluate(w) == twin.evaluate(w)
    saved, fits = json.dumps(probed.snapshot()), dict(probed.reference.calibration.fits)
    assert len(json.loads(saved)["recent"]) == 2 and json.loads(saved)["persistence"]["history"]

    bigger = window(900, 0.5)  # another size: fits are missing
    missing = probed.wanted_fits(bigger)
    assert missing > 0 and len(probed.reference.calibration.wanted) == missing
    assert json.dumps(probed.snapshot()) == saved and probed.reference.calibration.fits == fits
    assert probed.wanted_fits(bigger, window(300, 0.0), "previous_1") > 0
    assert json.dumps(probed.snapshot()) == saved
    assert probed.reference.calibration.fit_wanted(deadline=1.0, clock=lambda: 0.0)
    assert probed.wanted_fits(bigger) == 0
    assert probed.evaluate(bigger) == twin.evaluate(bigger)
    assert json.dumps(probed.snapshot()) == json.dumps(twin.snapshot())


def test_a_pass_makes_one_fit_past_its_deadline_however_many_models(traffic):
    processor = Processor(settings(), fit_budget=past_deadline)
    state = fed(processor, traffic)
    budget = past_deadline()
    for monitor in state.monitors.values():
        assert monitor.close_ready(END_MS, budget) == []
    assert budget.fits == 1
    assert all(m.sealed and not m.windows for m in state.monitors.values())  # they wait, sealed


def reference(traffic):
    rows = [json.loads(v)["features"] for _, v in traffic.predictions[:500]]
    return ReferenceProfile.from_columns({"income": "numeric", "channel": "categorical"}, {
        "income": np.array([r["income"] for r in rows]), "channel": np.array([r["channel"] for r in rows], dtype=object)})


def test_stage2_waits_for_the_fits_of_a_merged_window(traffic):
    processor = Processor(settings(("loans",), "global"), references={"loans": reference(traffic)})
    states = {p: processor.new_partition(p) for p in (0, 1)}
    for p, state in states.items():
        processor.process(state, [(p, i, v, 0) for i, (_, v) in enumerate(traffic.predictions) if i % 2 == p], [],
                          START_MS, BatchOutput())
    partials = [p for state in states.values() for m in state.monitors.values()
                for p in take_partials(m, state.partition, END_MS)]
    assert partials

    def owner():  # each with a reference of its own: no fit is shared
        fresh = Processor(settings(("loans",), "global"), references={"loans": reference(traffic)})
        monitor = fresh._monitor(fresh.new_partition(99), "loans", "v1")
        o = WindowOwner(monitor, wait_ms=60_000, idle_ms=3_000, partitions=2)
        for p in partials:
            o.add(p, END_MS)
        return o

    expected = owner().close_ready(END_MS + 60_000)  # past wait_ms: complete
    assert expected
    gated = owner()
    assert not len(gated.monitor.reference.calibration)
    reports, passes = [], 0
    while len(reports) < len(expected):
        budget = past_deadline()
        reports += gated.close_ready(END_MS + 60_000, budget)
        passes += 1
        assert budget.fits == 1 and passes < 2_000
        if passes == 1:  # sealed: a partial of it now is late, as after a close; the checkpoint keeps it
            assert not reports and gated.sealed and not [k for k in gated.pending if k[0] == "predictions"]
            gated.add(next(p for p in partials if p.side == "predictions"), END_MS + 60_000)
            assert gated.late_partials == 1
            gated = WindowOwner.restore(json.loads(json.dumps(gated.snapshot())), owner().monitor, wait_ms=60_000,
                                        idle_ms=3_000, partitions=2)
    assert passes > 5 and [repr(r) for r in reports] == [repr(r) for r in expected]
    # Once made, the fits let a window through at once.
    merged = merge_partials([p for p in partials if p.side == "predictions"][:1], gated.monitor.reference)
    assert calibrated(gated.monitor, merged.window.sketch, merged.window.start_ms, merged.groups, past_deadline())


def test_a_label_window_never_closes_past_a_sealed_prediction_window(traffic):
    # Labels join at their own (later) time, so the last label windows have no prediction window to
    # wait for; closing them while earlier prediction windows wait for fits would make the earlier
    # label windows' labels late.
    processor = Processor(settings(), fit_budget=past_deadline)
    state = fed(processor, traffic)
    feedback = []
    for i, (_, v) in enumerate(traffic.feedback):
        label = json.loads(v)
        label["ts"] += 10_000  # a window later: the last label window has no prediction window
        feedback.append((1, i, json.dumps(label).encode(), 0))
    processor.process(state, [], feedback, START_MS, BatchOutput())
    order, waited = [], False
    for _ in range(2_000):
        out = BatchOutput()
        processor.close_windows(state, END_MS, out)
        waited |= any(m.sealed and m.label_windows for m in state.monitors.values())
        order += [(r.model, r.window_start_ms, "labels" if r.n_labels else "predictions") for r in out.reports]
        if not any(m.sealed or m.windows or m.label_windows for m in state.monitors.values()):
            break
    assert waited  # prediction windows did wait for fits while label windows were ready
    for k, (model, start, side) in enumerate(order):
        if side == "labels":
            earlier = {s for m, s, sd in order[:k] if m == model and sd == "predictions"}
            assert {s for m, s, sd in order if m == model and sd == "predictions" and s <= start} <= earlier
    assert {s for _, s, side in order if side == "labels"} == {START_MS + 10_000, START_MS + 20_000}
    assert all(m.late_labels == 0 for m in state.monitors.values())
