"""Evidently 0.7.23 ``DataDriftPreset`` vs driftline's ``DriftSuite`` on the same windows.

10 numeric + 3 categorical features, a 50k-row reference, 10k-row windows.
Both tools run the same tests with the same thresholds: PSI >= 0.2 and KS
p <= 0.05 on numeric features, chi-square p < 0.05 on categorical ones; no
multiple-testing correction in driftline (Evidently has none). Windows come
in four drift scenarios (none, mild, moderate, strong), several seeds each.

Timed per window:

* Evidently: ``Dataset.from_pandas`` of the window + ``Report.run(window, reference)``
  for one report holding ``DataDriftPreset(num_method="psi", cat_method="chisquare")``
  and one ``ValueDrift(method="ks")`` per numeric column (Evidently re-reads the
  reference on every run; that is how it is used);
* driftline: ``WindowSketch.update`` with the window's numpy columns +
  ``DriftSuite.evaluate`` (the reference profile is built once per model and
  is timed separately).

The two tools do not compute the same statistic exactly, so verdicts can differ
near a threshold: Evidently bins PSI with Sturges equal-width bins over
reference+window (17 bins here), driftline with Sturges-many normal-score bins
of the reference and Jeffreys pseudo-counts; both KS use every value (driftline
on the reference's fine grid: exact here, the values have one decimal);
Evidently's chi-square is goodness-of-fit against the reference shares,
driftline's the 2 x k homogeneity test. The profile's reservoir no longer
changes any test (the "full reservoir" variant is kept to show it).
"""

from __future__ import annotations

import logging
import time
import warnings

import numpy as np
from driftline.detectors import DriftSettings, DriftSuite, ReferenceProfile, TestSpec, WindowSketch

from .traffic import _CATEGORIES, _DRIFTED_MIX, _MEANS, _MIX, _SCALES, CATEGORICAL, NUMERIC

KINDS = {**dict.fromkeys(NUMERIC, "numeric"), **dict.fromkeys(CATEGORICAL, "categorical")}
THRESHOLDS = {"psi": 0.2, "ks": 0.05, "chi2": 0.05}
# scenario -> (numeric mean shifts in std units, numeric std factors, categorical mixes)
SCENARIOS: dict[str, tuple[dict[str, float], dict[str, float], dict[str, list[float]]]] = {
    "none": ({}, {}, {}),
    "mild": ({"f0": 0.05, "f1": 0.1}, {"f2": 1.05}, {"c1": [0.47, 0.31, 0.16, 0.06]}),
    "moderate": ({"f0": 0.3, "f1": 0.2}, {"f2": 1.3}, {"c1": [0.4, 0.3, 0.15, 0.15]}),
    "strong": ({"f0": 1.0, "f5": 0.5}, {"f2": 1.5}, {"c1": _DRIFTED_MIX, "c2": [0.25, 0.25, 0.25, 0.25]}),
}


def columns(rng: np.random.Generator, n: int, scenario: str = "none") -> dict[str, np.ndarray]:
    shifts, scales, mixes = SCENARIOS[scenario]
    out: dict[str, np.ndarray] = {}
    for i, name in enumerate(NUMERIC):
        scale = _SCALES[i] * scales.get(name, 1.0)
        out[name] = np.round(rng.normal(_MEANS[i] + shifts.get(name, 0.0) * _SCALES[i], scale, n), 1)
    for name in CATEGORICAL:
        out[name] = rng.choice(np.array(_CATEGORIES[name], dtype=object), size=n, p=mixes.get(name, _MIX[name]))
    return out


def truly_drifted(scenario: str) -> set[str]:
    shifts, scales, mixes = SCENARIOS[scenario]
    return set(shifts) | set(scales) | set(mixes)


class EvidentlyRunner:
    def __init__(self, reference: dict[str, np.ndarray]) -> None:
        import pandas as pd
        from evidently import DataDefinition, Dataset, Report
        from evidently.metrics import ValueDrift
        from evidently.presets import DataDriftPreset

        self._pd, self._dataset = pd, Dataset
        self.definition = DataDefinition(numerical_columns=list(NUMERIC), categorical_columns=list(CATEGORICAL))
        self.reference_frame = pd.DataFrame(reference)
        self.report = Report([
            DataDriftPreset(num_method="psi", cat_method="chisquare", num_threshold=THRESHOLDS["psi"],
                            cat_threshold=THRESHOLDS["chi2"]),
            *[ValueDrift(column=name, method="ks", threshold=THRESHOLDS["ks"]) for name in NUMERIC],
        ])

    def run(self, window: dict[str, np.ndarray]) -> tuple[dict[tuple[str, str], tuple[float, bool]], float]:
        """Per (feature, test): (Evidently's score, drifted by Evidently's own rule); seconds taken."""
        frame = self._pd.DataFrame(window)  # the window arrives as a DataFrame: not timed
        started = time.perf_counter()
        reference = self._dataset.from_pandas(self.reference_frame, data_definition=self.definition)
        current = self._dataset.from_pandas(frame, data_definition=self.definition)
        snapshot = self.report.run(current, reference)
        seconds = time.perf_counter() - started
        out = {}
        for metric in snapshot.dict()["metrics"]:
            config = metric["config"]
            if not config["type"].endswith(":ValueDrift"):
                continue
            method, value = config["method"], float(metric["value"])
            # Evidently's decision rules (legacy/calculations/stattests): psi >= t, ks p <= t, chisquare p < t.
            test, drifted = {"psi": ("psi", value >= config["threshold"]),
                             "ks": ("ks", value <= config["threshold"]),
                             "chisquare": ("chi2", value < config["threshold"])}[method]
            out[(config["column"], test)] = (value, drifted)
        return out, seconds


def driftline_suite(reference: dict[str, np.ndarray], reservoir_size: int = 2000) -> tuple[ReferenceProfile, DriftSuite, float]:
    started = time.perf_counter()
    profile = ReferenceProfile.from_columns(KINDS, reference, reservoir_size=reservoir_size)
    settings = DriftSettings(numeric=(TestSpec("psi", THRESHOLDS["psi"]), TestSpec("ks", THRESHOLDS["ks"])),
                             categorical=(TestSpec("chi2", THRESHOLDS["chi2"]),), correction="none")
    return profile, DriftSuite(profile, settings), time.perf_counter() - started


def run_driftline(profile: ReferenceProfile, suite: DriftSuite, window: dict[str, np.ndarray]):
    started = time.perf_counter()
    sketch = WindowSketch(profile)
    sketch.update(window)
    results = suite.evaluate(sketch)
    seconds = time.perf_counter() - started
    return {(r.feature, r.test): (r.p_value if r.p_value is not None else r.statistic, r.drifted)
            for r in results}, seconds


def compare(seeds: int = 3, reference_rows: int = 50_000, window_rows: int = 10_000) -> dict:
    logging.getLogger("evidently").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="evidently")
    rng = np.random.default_rng(2024)
    reference = columns(rng, reference_rows)
    evidently = EvidentlyRunner(reference)
    profile, suite, build_s = driftline_suite(reference)
    big_profile, big_suite, _ = driftline_suite(reference, reservoir_size=window_rows)
    evidently.run(columns(rng, window_rows))  # warm-up: imports, registry, first-call caches
    run_driftline(profile, suite, columns(rng, window_rows))
    rows = []
    for index, scenario in enumerate(SCENARIOS):
        for seed in range(seeds):
            window = columns(np.random.default_rng([index, seed]), window_rows, scenario)
            ev, ev_s = evidently.run(window)
            dl, dl_s = run_driftline(profile, suite, window)
            dl_big, _ = run_driftline(big_profile, big_suite, window)
            rows.append({"scenario": scenario, "seed": seed, "evidently_s": ev_s, "driftline_s": dl_s,
                         "evidently": ev, "driftline": dl, "driftline_full_reservoir": dl_big})
    return summarise(rows, build_s, reference_rows, window_rows)


def summarise(rows: list[dict], build_s: float, reference_rows: int, window_rows: int) -> dict:
    ev_s = float(np.median([r["evidently_s"] for r in rows]))
    dl_s = float(np.median([r["driftline_s"] for r in rows]))
    agreement: dict[str, dict] = {}
    disagreements = []
    for variant in ("driftline", "driftline_full_reservoir"):
        for test in ("psi", "ks", "chi2"):
            same = total = 0
            for r in rows:
                for (feature, t), (ev_value, ev_drift) in r["evidently"].items():
                    if t != test or (feature, t) not in r[variant]:
                        continue
                    dl_value, dl_drift = r[variant][(feature, t)]
                    total += 1
                    same += ev_drift == dl_drift
                    if ev_drift != dl_drift and variant == "driftline":
                        disagreements.append({"scenario": r["scenario"], "seed": r["seed"], "feature": feature,
                                              "test": test, "evidently": round(ev_value, 4),
                                              "driftline": round(dl_value, 4), "evidently_drift": ev_drift,
                                              "truth": feature in truly_drifted(r["scenario"])})
            agreement.setdefault(variant, {})[test] = {"agree": same, "total": total, "share": same / total}
    detection = {}
    for tool in ("evidently", "driftline"):
        hits = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
        for r in rows:
            truth = truly_drifted(r["scenario"])
            for (feature, _test), (_v, drift) in r[tool].items():
                key = ("tp" if drift else "fn") if feature in truth else ("fp" if drift else "tn")
                hits[key] += 1
        detection[tool] = hits
    return {"reference_rows": reference_rows, "window_rows": window_rows, "windows": len(rows),
            "scenarios": list(SCENARIOS), "evidently_s": ev_s, "driftline_s": dl_s, "ratio": ev_s / dl_s,
            "driftline_reference_build_s": build_s, "agreement": agreement, "disagreements": disagreements,
            "detection": detection,
            "per_window": [{"scenario": r["scenario"], "seed": r["seed"], "evidently_s": r["evidently_s"],
                            "driftline_s": r["driftline_s"]} for r in rows]}


if __name__ == "__main__":
    import json

    print(json.dumps(compare(), indent=1, default=str))
