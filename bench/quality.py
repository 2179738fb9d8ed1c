"""Detection quality: driftline's tests and default config vs Evidently 0.7.23 vs always/never-fire.

Families of graded changes with known truth (:mod:`bench.quality_data`), no-change windows of
several sizes, and a seasonal stream judged against the same window last period. Scored per
(window, feature): a changed feature flagged is a true positive, an unchanged one flagged a
false positive. Each change runs as a stream of ``post`` changed windows: the detection delay
is the index of the first flagged window (0 = at once), a miss is a stream never flagged.
Before them, driftline's suites see ``lead`` no-change windows, unscored: a stream has a past,
so a test that accumulates windows (``accumulate``) merges a changed window with unchanged ones
at first, as it would in production. Every tool sees the same scored windows in the same run.
Evidently runs its own default ``DataDriftPreset()`` (normed Wasserstein 0.1 on numeric,
Jensen-Shannon 0.1 on categorical columns for a reference above 1,000 rows).

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
from .quality_report import EQUAL_RATE, Score, markdown

__all__ = ["configs", "markdown", "run", "stable"]

NUMERIC_TESTS = {"psi": 0.2, "ks": 0.05, "wasserstein": 0.1, "jensen_shannon": 0.1, "hellinger": 0.1}
CATEGORICAL_TESTS = {"chi2": 0.01, "psi": 0.2, "jensen_shannon": 0.1, "unseen_share": 0.01}
AUTO_NUMERIC = ("psi", "ks", "wasserstein", "moments", "ranks")
AUTO_CATEGORICAL = ("chi2", "unseen_share")
PERIOD = 12
SEASON_PERIODS = 3  # judged: the periods after the first


def configs() -> dict[str, DriftSettings]:
    """Named driftline configs: every test alone at its fixed and at its auto threshold, and the default."""
    fixed = DriftSettings(numeric=tuple(TestSpec(t, v) for t, v in NUMERIC_TESTS.items()),
                          categorical=tuple(TestSpec(t, v) for t, v in CATEGORICAL_TESTS.items()), correction="none",
                          accumulate=1)
    auto = DriftSettings(numeric=tuple(TestSpec(t, "auto") for t in AUTO_NUMERIC),
                         categorical=tuple(TestSpec(t, "auto") for t in AUTO_CATEGORICAL), correction="none",
                         accumulate=1, combine="none")
    # The default at about Evidently's operating point on these windows: how much of a gap is
    # power and how much is the chosen rate.
    return {"tests": fixed, "tests auto": auto, "default": DriftSettings(),
            EQUAL_RATE: DriftSettings(target=(1, 100))}


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
               baseline: WindowSketch | None = None) -> dict[str, dict[str, bool]]:
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
    return out


def _features_of(row: str) -> list[str]:
    if row.endswith("(n)") or "(n) " in row:
        return NUMERIC
    if row.endswith("(c)") or "(c) " in row:
        return CATEGORICAL
    return list(KINDS)


def run(reps: int = 12, post: int = 2, lead: int = 1, window: int = 1000, reference_rows: int = 10_000,
        sizes: tuple[int, ...] = (100, 1000, 10_000), stable_events: int = 2_000_000,
        stable_window: int = 1000, evidently: bool = True, families: tuple[str, ...] | None = None) -> dict:
    """``families``: only these change families (their streams are the same as in a full run: the seeds
    are keyed by the family's place in :data:`FAMILIES`); "no change" and "seasonality" name the
    no-change windows and the seasonal streams. ``stable_events=0`` skips the stable streams."""
    def wanted(name: str) -> bool:
        return families is None or any(name.startswith(f) for f in families)

    rng = np.random.default_rng(15)
    ref_cols = columns(rng, reference_rows)
    profile = ReferenceProfile.from_columns(KINDS, ref_cols)
    ev = Evidently() if evidently else None
    scores: dict[str, dict[str, Score]] = {}
    timing = {"evidently_s": 0.0, "driftline_s": 0.0, "windows": 0}

    def judge(family: str, stream: list[tuple[dict, Change | None]], baseline_windows=None,
              past: list[dict] = ()) -> None:
        suites = {name: DriftSuite(profile, s) for name, s in configs().items()}
        started = time.perf_counter()
        for cols in past:  # unscored history: what accumulating tests merge a first changed window with
            _driftline(suites, cols, profile)
        timing["driftline_s"] += time.perf_counter() - started
        changed = stream[0][1].feature if stream[0][1] is not None else None
        grade = stream[0][1].grade if stream[0][1] is not None else None
        first: dict[str, int | None] = {}
        for t, (win, _change) in enumerate(stream):
            base_cols = baseline_windows[t] if baseline_windows else None
            base = None
            if base_cols is not None:
                base = WindowSketch(profile)
                base.update(base_cols)
            started = time.perf_counter()
            flags = _driftline(suites, win, profile, base)
            timing["driftline_s"] += time.perf_counter() - started
            if ev is not None:
                started = time.perf_counter()
                flags["Evidently default"] = ev.verdicts(win, base_cols if base_cols is not None else ref_cols)
                timing["evidently_s"] += time.perf_counter() - started
            timing["windows"] += 1
            flags["always fire"] = dict.fromkeys(KINDS, True)
            flags["never fire"] = dict.fromkeys(KINDS, False)
            for row, f in flags.items():
                scores.setdefault(family, {}).setdefault(row, Score()).add(f, changed, _features_of(row), grade)
                if changed is not None and f.get(changed) and first.get(row) is None:
                    first[row] = t
        if changed is not None:
            for row, score in scores[family].items():
                if changed in _features_of(row):
                    score.stream(first.get(row))

    for fi, (family, changes) in enumerate(FAMILIES.items()):
        if not wanted(family):
            continue
        for ci, change in enumerate(changes):
            for rep in range(reps):
                r = np.random.default_rng([fi, ci, rep])
                scored = [(columns(r, window, change), change) for _ in range(post)]
                quiet = np.random.default_rng([fi, ci, rep, 1])  # apart: the scored windows stay the same
                judge(family, scored, past=[columns(quiet, window) for _ in range(lead)])
    for size in sizes if wanted("no change") else ():
        for rep in range(reps):
            r = np.random.default_rng([99, size, rep])
            judge(f"no change, {size:,}-row windows", [(columns(r, size), None) for _ in range(post)])
    r = np.random.default_rng(77)
    season = [] if not wanted("seasonality") else [columns(r, window, phase=(t % PERIOD + 0.5) / PERIOD) for t in range((SEASON_PERIODS + 1) * PERIOD)]
    # Information, not a criterion: against the fixed reference the cycle *is* a difference.
    if season:
        judge("seasonality vs fixed reference (info)", [(w, None) for w in season[PERIOD:]])
        judge("seasonality vs same window last period", [(w, None) for w in season[PERIOD:]], season[:-PERIOD])
    out = {"reps": reps, "post": post, "lead": lead, "window": window, "reference_rows": reference_rows,
           "timing": timing, "default": _describe(DriftSettings()),
           "families": {fam: {row: s.row() for row, s in rows.items()} for fam, rows in scores.items()}}
    if wanted("mean shift"):
        out["ceiling"] = ceiling(ref_cols, reps, post, lead, window)
    started = time.perf_counter()
    out["stable"] = stable(profile, stable_events, stable_window) if stable_events else {}
    timing["stable_s"] = time.perf_counter() - started
    return out


# The scale on which each mean shift of the family is a shift of a (near-)normal mean.
CEILING_SCALE = {"normal": None, "discrete": None, "skewed": np.log}


def ceiling(ref_cols: dict, reps: int, post: int, lead: int, window: int) -> dict:
    """What the default's false-alarm budget allows on the mean-shift family, whatever the test.

    A test told which feature changed and how: a two-sided z of the window's mean against the
    reference's (the reference's mean and standard deviation), on the scale where the change is a
    shift of a mean (the log of the log-normal feature; the Poisson's own scale), at the budget the
    default gives one of the model's features: Holm's first step, ``alpha / features`` with
    ``alpha`` the default target, and the default's accumulation (Simes of the window and the merge
    of the last two, as :class:`~driftline.detectors.DriftSuite` does). Same streams as
    :func:`run`. An omnibus test, which must also watch the spread and the shape of every feature,
    cannot expect more at this budget. Returns ``grade -> [true positives, windows]`` per budget
    (the default's, and 1 per 100 and 1 per 50 windows per model).

    >>> from bench.quality_data import columns, KINDS
    >>> c = ceiling(columns(np.random.default_rng(15), 10_000), reps=2, post=2, lead=1, window=1000)
    >>> sorted(c), c["1 per 200 windows"]["0.5 sd"], len(c["1 per 200 windows"])
    (['1 per 100 windows', '1 per 200 windows', '1 per 50 windows'], [4, 4], 5)
    """
    from driftline.detectors.suite import simes
    from scipy import stats

    def scaled(feature: str, x: np.ndarray) -> np.ndarray:
        f = CEILING_SCALE[feature]
        return x if f is None else f(x)

    fi = list(FAMILIES).index("mean shift")
    default = DriftSettings()
    p_values: dict[str, list[float]] = {}  # grade -> the p-value of each scored window, whatever the budget
    for ci, change in enumerate(FAMILIES["mean shift"]):
        name = change.feature
        ref = scaled(name, ref_cols[name])
        mu, sd, big = float(ref.mean()), float(ref.std(ddof=1)), len(ref)

        def p(x: np.ndarray, mu=mu, sd=sd, big=big) -> float:
            return float(2 * stats.norm.sf(abs(x.mean() - mu) / (sd * np.sqrt(1 / len(x) + 1 / big))))

        ps = p_values.setdefault(change.grade, [])
        for rep in range(reps):
            r, quiet = np.random.default_rng([fi, ci, rep]), np.random.default_rng([fi, ci, rep, 1])
            last = None
            for _ in range(lead):
                last = scaled(name, columns(quiet, window)[name])
            for _ in range(post):
                w = scaled(name, columns(r, window, change)[name])
                ps.append(p(w) if last is None or default.accumulate < 2 else simes(p(w), p(np.concatenate([last, w]))))
                last = w
    budgets = sorted({int(default.target[1] / default.target[0]), 100, 50}, reverse=True)
    return {f"1 per {per} windows": {grade: [sum(pv < 1.0 / per / len(KINDS) for pv in ps), len(ps)]
                                     for grade, ps in p_values.items()} for per in budgets}


def _describe(s: DriftSettings) -> dict:
    return {"numeric": [f"{t.type} {t.threshold}" for t in s.numeric],
            "categorical": [f"{t.type} {t.threshold}" for t in s.categorical], "correction": s.correction,
            "target": list(s.target), "persistence": list(s.persistence), "accumulate": s.accumulate}


def stable(profile: ReferenceProfile, events: int, window: int, models: int = 2) -> dict:
    """False alarms of the default config per 100,000 stable events per model, and how its parts combine."""
    default = DriftSettings()
    variants = {"default": default,
                "default with Benjamini-Hochberg": DriftSettings(correction="bh"),
                "default without accumulation": DriftSettings(accumulate=1),
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
                     "target_per_window": settings.target_rate, "raw_positive_windows": positive,
                     "per_100k_events_per_model": onsets * 100_000 / (events * models)}
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run(reps=2, stable_events=200_000), indent=1, default=str))
