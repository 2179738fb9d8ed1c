"""bench/: the per-stage timer still names functions that exist; the data and pure parts of some sections."""

from __future__ import annotations

import bench.stages


def test_every_timed_stage_names_a_function_of_the_worker():
    # A target that moved or was renamed is skipped silently at run time, and its stage then
    # vanishes from the breakdown: catch that here instead.
    missing = [f"{module}.{path}" for module, path, _ in bench.stages._TARGETS
               if bench.stages._resolve(module, path)[0] is None]
    assert not missing, "bench/stages.py times functions that no longer exist: " + ", ".join(missing)


def test_the_processes_data_set_gives_each_half_of_the_partitions_five_streams():
    from collections import Counter

    from bench.processes import BALANCED

    per_partition = Counter(BALANCED.values())
    assert per_partition[0] + per_partition[1] == per_partition[2] + per_partition[3] == 5


def test_growth_settings_parse_at_every_size():
    from driftline.settings import parse_settings

    from bench.growth import feature_names, raw_settings, streams_of

    for features, streams in ((13, 10), (500, 10), (13, 1000)):
        settings = parse_settings(raw_settings("127.0.0.1:9092", "chdb://:memory:", "r", features, streams, 200))
        numeric, categorical = feature_names(features)
        assert len(numeric) + len(categorical) == features
        assert len(settings.models) * 2 == len(streams_of(streams)) == streams
        assert all(len(m.features) == features for m in settings.models)


def test_the_growth_profile_carries_every_null_fit_its_windows_need(tmp_path, monkeypatch):
    # A fit missing from the profile would be made on the ingest thread during the timed run.
    from driftline.detectors import DriftSuite, ReferenceProfile
    from driftline.detectors.calibration import ladder_around, test_key

    import bench.growth

    monkeypatch.setattr(bench.growth, "PROFILES", tmp_path)
    profile = ReferenceProfile.load(bench.growth.reference_profile(13, 200))
    assert set(profile.features) >= {"x0", "c0", "prediction", "score"}
    suite = DriftSuite(profile)
    needed = {(name, test_key(test), size) for name, feature in profile.features.items()
              for test in suite._tests[feature.kind] for n in (1, 200, 201, 400, 401)
              for size in ladder_around(n)}  # a stream's last window holds the watermark tick too
    assert needed <= set(profile.calibration.fits)


def test_the_cbpe_section_measures_and_renders_without_nannyml():
    # `--only cbpe` needs NannyML (a bench extra); its data, driftline's side, the difference and
    # the table do not.
    import numpy as np
    import pytest

    from bench.cbpe_compare import (
        METRICS,
        WINDOW,
        driftline_estimates,
        markdown,
        max_differences,
        shifted_windows,
    )

    ref, windows = shifted_windows(windows=3)
    assert [len(w[0]) for w in windows] == [WINDOW] * 3
    _, ours = driftline_estimates(ref, windows)
    assert all(set(o) == set(METRICS) for o in ours)
    theirs = {m: np.array([o[m] for o in ours]) + np.array([0.0, -2e-6, 1e-6]) for m in METRICS}
    differences = max_differences(ours, theirs)
    assert differences == {m: pytest.approx(2e-6, rel=1e-6) for m in METRICS}
    text = "\n".join(markdown({
        "seed": 11, "windows": 3, "window_rows": WINDOW, "reference_rows": len(ref[0]),
        "nannyml_version": "0.13.1", "needs_calibration": True, "max_abs_difference": differences,
        "sampling_error_ratio": {m: (1.0, 1.0) for m in ("accuracy", "precision", "recall")},
        "driftline_s": 0.01, "nannyml_s": 1.0}))
    assert "| roc_auc | 2.0e-06 |" in text and "NannyML calibrates: yes" in text


def test_the_quality_section_scores_and_renders_rates_with_wilson_intervals():
    # Wilson's interval against scipy's (an independent implementation); then a Score and the table.
    import pytest
    from scipy import stats

    from bench.quality_report import Score, markdown, pooled, wilson

    for k, n in ((0, 600), (3, 600), (99, 120), (72, 72)):
        ci = stats.binomtest(k, n).proportion_ci(method="wilson")
        assert wilson(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12)
    score = Score()
    score.add({"a": True, "b": True, "c": False}, "a", ["a", "b", "c"], "0.1 sd")
    score.add({"a": False, "b": False, "c": False}, "a", ["a", "b", "c"], "0.1 sd")
    score.stream(0)
    row = score.row()
    assert (row["tp"], row["fn"], row["fp"], row["tn"], row["grades"], row["delay"]) == (1, 1, 1, 3, {"0.1 sd": [1, 2]}, 0.0)
    q = {"reps": 1, "post": 2, "lead": 1, "window": 1000, "reference_rows": 10_000, "default": {},
         "families": {"mean shift": {"default": row, "Evidently default": row}},
         "stable": {"default": {"events_per_model": 2_000, "models": 2, "window": 1_000, "alarms": 1,
                                "target_per_window": 0.005, "per_100k_events_per_model": 25.0}},
         "timing": {"windows": 2, "evidently_s": 1.0, "driftline_s": 0.1}}
    text = "\n".join(markdown(q))
    assert "| mean shift | default | 0.50 (1/2; 0.09-0.91) | 0.2500 (1/4; 0.0456-0.6994) | 0 | 0.00 |" in text
    assert "| mean shift | 0.1 sd (n=2) | 0.50 |  | 0.50 |" in text
    assert "| default | 2,000 | 2 | 1,000 | 0.0050 | 1 | 0.2500 (0.0456-0.6994) | 50.00 | 25.00 |" in text
    assert pooled(q)["default"] == (1, 1, 1, 3)
    # The ceiling: a z on the mean at a model's budget, beside the default and Evidently, per grade.
    q["ceiling"] = {"1 per 200 windows": {"0.1 sd": [1, 4]}, "1 per 100 windows": {"0.1 sd": [3, 4]}}
    text = "\n".join(markdown(q))
    assert "| 0.1 sd (n=4) | 0.25 | 0.75 | 0.50 | 0.50 |" in text
    assert "| the family (of 4) | 1 | 3 | 1 | 1 |" in text


def test_the_ceiling_test_is_the_z_on_the_mean_at_the_per_feature_budget():
    # Recomputed here with scipy's normal tail, stream by stream: the normal's grade on its own scale,
    # the log-normal's on the log scale.
    import numpy as np
    from driftline.detectors.suite import simes
    from scipy import stats

    from bench.quality import ceiling
    from bench.quality_data import FAMILIES, KINDS, columns

    ref = columns(np.random.default_rng(15), 10_000)
    got = ceiling(ref, reps=3, post=2, lead=1, window=1000)["1 per 200 windows"]
    fi = list(FAMILIES).index("mean shift")
    for ci, change in enumerate(FAMILIES["mean shift"]):
        if change.grade not in ("0.1 sd", "+0.1 log"):
            continue
        f = np.log if change.feature == "skewed" else (lambda v: v)
        x = f(ref[change.feature])
        hits = 0
        for rep in range(3):
            r, quiet = np.random.default_rng([fi, ci, rep]), np.random.default_rng([fi, ci, rep, 1])
            last = f(columns(quiet, 1000)[change.feature])
            for _ in range(2):
                w = f(columns(r, 1000, change)[change.feature])
                ps = []
                for v in (w, np.concatenate([last, w])):
                    se = x.std(ddof=1) * np.sqrt(1 / len(v) + 1 / len(x))
                    ps.append(2 * stats.norm.sf(abs(v.mean() - x.mean()) / se))
                hits += simes(*ps) < 1 / 200 / len(KINDS)
                last = w
        assert got[change.grade] == [hits, 6], change.grade
