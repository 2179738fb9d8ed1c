"""Detection quality: driftline's tests and default config vs Evidently 0.7.23 vs always/never-fire.

Families of graded changes with known truth (:mod:`bench.quality_data`), no-change windows of
several sizes, and a seasonal stream judged against the same window last period. Scored per
(window, feature): a changed feature flagged is a true positive, an unchanged one flagged a
false positive. Each change runs as a stream of ``post`` changed windows: the detection delay
is the index of the first flagged window (0 = at once), a miss is a stream never flagged.
Every tool sees the same windows in the same run. Evidently runs its own default
``DataDriftPreset()`` (normed Wasserstein 0.1 on numeric, Jensen-Shannon 0.1 on categorical
columns for a reference above 1,000 rows) and re-reads the reference each window.

The stable stream: ``stable_events`` no-change events per model in windows of
``stable_window`` events through the default config; an alarm is an onset of the model's
drift state (see :func:`driftline.detectors.calibration.alpha_for`).
"""

from __future__ import annotations

import logging
import time
import warnings

import numpy as np
from driftline.detectors import DriftSettings, DriftSuite, ReferenceProfile, TestSpec, WindowSketch

from .quality_data import CATEGORICAL, FAMILIES, KINDS, NUMERIC, Change, columns

NUMERIC_TESTS = {"psi": 0.2, "ks": 0.05, "wasserstein": 0.1, "jensen_shannon": 0.1, "hellinger": 0.1}
CATEGORICAL_TESTS = {"chi2": 0.01, "psi": 0.2, "jensen_shannon": 0.1, "unseen_share": 0.01}
AUTO_NUMERIC = ("psi", "ks", "wasserstein")
AUTO_CATEGORICAL = ("chi2", "unseen_share")
PERIOD = 12
EQUAL_RATE = "default, target 1 per 10 windows"


def configs() -> dict[str, DriftSettings]:
    """Named driftline configs: every test alone at its fixed and at its auto threshold, and the default."""
    fixed = DriftSettings(numeric=tuple(TestSpec(t, v) for t, v in NUMERIC_TESTS.items()),
                          categorical=tuple(TestSpec(t, v) for t, v in CATEGORICAL_TESTS.items()), correction="none")
    auto = DriftSettings(numeric=tuple(TestSpec(t, "auto") for t in AUTO_NUMERIC),
                         categorical=tuple(TestSpec(t, "auto") for t in AUTO_CATEGORICAL), correction="none")
    # The default at Evidently's operating point (its per-feature false-positive rate on 1,000-row
    # windows is about 0.014): how much of the gap is power and how much is the chosen rate.
    return {"tests": fixed, "tests auto": auto, "default": DriftSettings(),
            EQUAL_RATE: DriftSettings(target=(1, 10))}


class Evidently:
    def __init__(self) -> None:
        import pandas as pd
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset

        logging.getLogger("evidently").setLevel(logging.WARNING)
        warnings.filterwarnings("ignore", module="evidently")
        self._pd, self._dataset = pd, Dataset
        self.definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
        self.report = Report([DataDriftPreset()])

    def verdicts(self, window: dict, reference: dict) -> dict[str, bool]:
        """Evidently's own per-column rule: p-value methods drift below, distances at or above."""
        ds = [self._dataset.from_pandas(self._pd.DataFrame(x), data_definition=self.definition)
              for x in (window, reference)]
        out = {}
        for metric in self.report.run(*ds).dict()["metrics"]:
            c = metric["config"]
            if c["type"].endswith(":ValueDrift"):
                value = float(metric["value"])
                out[c["column"]] = value < c["threshold"] if "p_value" in c["method"] else value >= c["threshold"]
        return out


def _driftline(suites: dict[str, DriftSuite], window: dict, reference: ReferenceProfile,
               baseline: WindowSketch | None = None) -> tuple[dict[str, dict[str, bool]], WindowSketch]:
    """Per row ("default", "ks", "ks auto", ...): feature -> drifted."""
    sketch = WindowSketch(reference)
    sketch.update(window)
    out: dict[str, dict[str, bool]] = {}
    for config, suite in suites.items():
        for r in suite.evaluate(sketch, baseline):
            if config in ("default", EQUAL_RATE):
                row = config
            else:
                kind = KINDS[r.feature][0]  # "n" / "c": a test's name on each kind
                row = f"{r.test} ({kind}){' auto' if config.endswith('auto') else ''}"
            out.setdefault(row, {})
            out[row][r.feature] = out[row].get(r.feature, False) or r.drifted
    return out, sketch


class Score:
    def __init__(self) -> None:
        self.tp = self.fn = self.fp = self.tn = self.misses = self.streams = 0
        self.delays: list[int] = []

    def add(self, flags: dict[str, bool], changed: str | None, features) -> None:
        for f in features:
            hit = flags.get(f, False)
            if f == changed:
                self.tp += hit
                self.fn += not hit
            else:
                self.fp += hit
                self.tn += not hit

    def stream(self, first: int | None) -> None:
        self.streams += 1
        if first is None:
            self.misses += 1
        else:
            self.delays.append(first)

    def row(self) -> dict:
        pos, neg = self.tp + self.fn, self.fp + self.tn
        return {"tp": self.tp, "fn": self.fn, "fp": self.fp, "tn": self.tn,
                "tpr": self.tp / pos if pos else None, "fpr": self.fp / neg if neg else None,
                "misses": self.misses if pos else None,
                "delay": float(np.mean(self.delays)) if self.delays else None}


def _features_of(row: str) -> list[str]:
    if row.endswith("(n)") or "(n) " in row:
        return NUMERIC
    if row.endswith("(c)") or "(c) " in row:
        return CATEGORICAL
    return list(KINDS)


def run(reps: int = 4, post: int = 2, window: int = 1000, reference_rows: int = 10_000,
        sizes: tuple[int, ...] = (100, 1000, 10_000), stable_events: int = 2_000_000,
        stable_window: int = 1000, evidently: bool = True) -> dict:
    rng = np.random.default_rng(15)
    ref_cols = columns(rng, reference_rows)
    profile = ReferenceProfile.from_columns(KINDS, ref_cols)
    ev = Evidently() if evidently else None
    scores: dict[str, dict[str, Score]] = {}
    timing = {"evidently_s": 0.0, "driftline_s": 0.0, "windows": 0}

    def judge(family: str, stream: list[tuple[dict, Change | None]], baseline_windows=None) -> None:
        suites = {name: DriftSuite(profile, s) for name, s in configs().items()}
        changed = stream[0][1].feature if stream[0][1] is not None else None
        first: dict[str, int | None] = {}
        for t, (win, _change) in enumerate(stream):
            base_cols = baseline_windows[t] if baseline_windows else None
            base = None
            if base_cols is not None:
                base = WindowSketch(profile)
                base.update(base_cols)
            started = time.perf_counter()
            flags, _ = _driftline(suites, win, profile, base)
            timing["driftline_s"] += time.perf_counter() - started
            if ev is not None:
                started = time.perf_counter()
                flags["Evidently default"] = ev.verdicts(win, base_cols if base_cols is not None else ref_cols)
                timing["evidently_s"] += time.perf_counter() - started
            timing["windows"] += 1
            flags["always fire"] = dict.fromkeys(KINDS, True)
            flags["never fire"] = dict.fromkeys(KINDS, False)
            for row, f in flags.items():
                scores.setdefault(family, {}).setdefault(row, Score()).add(f, changed, _features_of(row))
                if changed is not None and f.get(changed) and first.get(row) is None:
                    first[row] = t
        if changed is not None:
            for row, score in scores[family].items():
                if changed in _features_of(row):
                    score.stream(first.get(row))

    for fi, (family, changes) in enumerate(FAMILIES.items()):
        for ci, change in enumerate(changes):
            for rep in range(reps):
                r = np.random.default_rng([fi, ci, rep])
                judge(family, [(columns(r, window, change), change) for _ in range(post)])
    for size in sizes:
        for rep in range(reps):
            r = np.random.default_rng([99, size, rep])
            judge(f"no change, {size:,}-row windows", [(columns(r, size), None) for _ in range(post)])
    r = np.random.default_rng(77)
    season = [columns(r, window, phase=(t % PERIOD + 0.5) / PERIOD) for t in range((reps + 1) * PERIOD // 2)]
    # Information, not a criterion: against the fixed reference the cycle *is* a difference.
    judge("seasonality vs fixed reference (info)", [(w, None) for w in season[PERIOD:]])
    judge("seasonality vs same window last period", [(w, None) for w in season[PERIOD:]], season[:-PERIOD])
    out = {"reps": reps, "post": post, "window": window, "reference_rows": reference_rows, "timing": timing,
           "families": {fam: {row: s.row() for row, s in rows.items()} for fam, rows in scores.items()},
           "stable": stable(profile, stable_events, stable_window)}
    return out


def stable(profile: ReferenceProfile, events: int, window: int, models: int = 2) -> dict:
    """False alarms of the default config per 100,000 stable events per model, and how its parts combine."""
    variants = {"default": DriftSettings(),
                "default without correction": DriftSettings(correction="none"),
                "default with persistence 2 of 3": DriftSettings(persistence=(2, 3))}
    out = {}
    for name, settings in variants.items():
        onsets = positive = windows = 0
        for model in range(models):
            suite, rng, drifted = DriftSuite(profile, settings), np.random.default_rng([5, model]), False
            for _ in range(events // window):
                sketch = WindowSketch(profile)
                sketch.update(columns(rng, window))
                results = suite.evaluate(sketch)
                now = any(r.drifted for r in results)
                positive += any(r.raw_drifted for r in results)
                onsets += now and not drifted
                drifted = now
                windows += 1
        out[name] = {"events_per_model": events, "models": models, "window": window, "alarms": onsets,
                     "raw_positive_windows": positive, "per_100k_events_per_model": onsets * 100_000 / (events * models)}
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run(reps=2, stable_events=200_000), indent=1, default=str))


ROWS = ("default", EQUAL_RATE, "Evidently default", "always fire", "never fire")


def markdown(q: dict, detail: bool = True) -> list[str]:
    """The benchmark table: per family, the default config, Evidently and the baselines; then every test."""
    def cell(s: dict) -> str:
        tpr = "n/a" if s["tpr"] is None else f"{s['tpr']:.2f}"
        delay = "" if s["delay"] is None else f"{s['delay']:.2f}"
        misses = "" if s["misses"] is None else str(s["misses"])
        return f"{tpr} | {s['fpr']:.3f} | {misses} | {delay}"

    lines = [f"## Detection quality ({q['reps']} streams x {q['post']} windows of {q['window']:,} rows per change; "
             f"reference {q['reference_rows']:,} rows)", "",
             "| family | config | TPR | FPR | missed streams | delay (windows) |", "|---|---|---:|---:|---:|---:|"]
    for family, rows in q["families"].items():
        for row in ROWS:
            if row in rows:
                lines.append(f"| {family} | {row} | {cell(rows[row])} |")
    lines.append("")
    if detail:
        target = DriftSettings().target
        lines += [f"Every driftline test alone (no correction, no persistence; `auto` = calibrated, target "
                  f"{target[0]:g} per {target[1]:,} windows per test):", "",
                  "| family | test | TPR | FPR | missed streams | delay (windows) |", "|---|---|---:|---:|---:|---:|"]
        for family, rows in q["families"].items():
            for row, s in rows.items():
                if row not in ROWS:
                    lines.append(f"| {family} | {row} | {cell(s)} |")
        lines.append("")
    lines += ["Pooled: TPR over every change family, FPR over the no-change windows (all sizes) and the unchanged "
              "features of the change windows:", "",
              "| config or test | TPR | FPR |", "|---|---:|---:|"]
    for row, (tpr, fpr) in pooled(q).items():
        lines.append(f"| {row} | {tpr:.2f} | {fpr:.4f} |")
    lines.append("")
    target = DriftSettings().target
    lines += [f"False alarms on stable streams (alarm = onset of a model's drift state; `auto` target "
              f"{target[0]:g} per {target[1]:,} windows):", "",
              "| config | events per model | models | window | alarms | alarms per window | per 100k events per model |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for name, s in q["stable"].items():
        windows = s["events_per_model"] * s["models"] // s["window"]
        lines.append(f"| {name} | {s['events_per_model']:,} | {s['models']} | {s['window']:,} | {s['alarms']} | "
                     f"{s['alarms'] / windows:.4f} | {s['per_100k_events_per_model']:.2f} |")
    t = q["timing"]
    lines += ["", f"Time over {t['windows']} windows: Evidently {t['evidently_s']:.1f} s, driftline (every config "
              f"above, calibration included) {t['driftline_s']:.1f} s.", ""]
    return lines


def pooled(q: dict) -> dict[str, tuple[float, float]]:
    """``row -> (TPR, FPR)`` pooled over the families (the seasonal ones excluded)."""
    sums: dict[str, list[int]] = {}
    for family, rows in q["families"].items():
        if family.startswith("seasonality"):
            continue
        for row, s in rows.items():
            acc = sums.setdefault(row, [0, 0, 0, 0])
            for i, key in enumerate(("tp", "fn", "fp", "tn")):
                acc[i] += s[key]
    return {row: (tp / (tp + fn) if tp + fn else 0.0, fp / (fp + tn) if fp + tn else 0.0)
            for row, (tp, fn, fp, tn) in sums.items()}
