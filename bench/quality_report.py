"""The detection-quality benchmark's scores and tables: counts, rates with 95 % intervals, per grade.

A rate rests on counts (a family's false-positive rate on a few hundred feature-windows moves
by 0.003 with one false positive), so each is printed with its count and a Wilson 95 % interval.

>>> [round(x, 3) for x in wilson(0, 800)], [round(x, 3) for x in wilson(8, 10)]
([0.0, 0.005], [0.49, 0.943])
"""

from __future__ import annotations

import math

import numpy as np
from driftline.detectors import DriftSettings

EQUAL_RATE = "default, target 1 per 100 windows"
ROWS = ("default", EQUAL_RATE, "Evidently default", "always fire", "never fire")


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson's 95 % score interval of a rate ``k / n`` (sound at 0 and at small counts)."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(centre - half, 0.0), min(centre + half, 1.0))


class Score:
    def __init__(self) -> None:
        self.tp = self.fn = self.fp = self.tn = self.misses = self.streams = 0
        self.delays: list[int] = []
        self.grades: dict[str, list[int]] = {}  # grade -> [true positives, changed feature-windows]

    def add(self, flags: dict[str, bool], changed: str | None, features, grade: str | None = None) -> None:
        for f in features:
            hit = flags.get(f, False)
            if f == changed:
                self.tp += hit
                self.fn += not hit
                g = self.grades.setdefault(grade or "", [0, 0])
                g[0] += hit
                g[1] += 1
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
                "misses": self.misses if pos else None, "grades": self.grades,
                "delay": float(np.mean(self.delays)) if self.delays else None}


def _rate(k: int, n: int, digits: int) -> str:
    lo, hi = wilson(k, n)
    return f"{k / n:.{digits}f} ({k}/{n}; {lo:.{digits}f}-{hi:.{digits}f})"


def _cell(s: dict) -> str:
    pos, neg = s["tp"] + s["fn"], s["fp"] + s["tn"]
    tpr = _rate(s["tp"], pos, 2) if pos else "n/a"
    delay = "" if s["delay"] is None else f"{s['delay']:.2f}"
    misses = "" if s["misses"] is None else str(s["misses"])
    return f"{tpr} | {_rate(s['fp'], neg, 4)} | {misses} | {delay}"


def markdown(q: dict, detail: bool = True) -> list[str]:
    """The benchmark table: per family, the default config, Evidently and the baselines; then every test."""
    d = q.get("default", {})
    lines = [f"## Detection quality ({q['reps']} streams x {q['post']} windows of {q['window']:,} rows per change, "
             f"after {q.get('lead', 0)} unscored no-change window; reference {q['reference_rows']:,} rows)", "",
             f"Default: {d}", "",
             "Rates as `rate (count/total; Wilson 95 % interval)`.", "",
             "| family | config | TPR | FPR | missed streams | delay (windows) |", "|---|---|---|---|---:|---:|"]
    for family, rows in q["families"].items():
        for row in ROWS:
            if row in rows:
                lines.append(f"| {family} | {row} | {_cell(rows[row])} |")
    lines += ["", "True-positive rate per grade (each over the grade's streams x windows):", "",
              "| family | grade | default | " + " | ".join(ROWS[1:3]) + " |", "|---|---|---:|---:|---:|"]
    for family, rows in q["families"].items():
        if "grades" not in rows.get("default", {}) or not rows["default"]["grades"]:
            continue
        for grade, (_tp, n) in rows["default"]["grades"].items():
            cells = []
            for row in ROWS[:3]:
                g = rows.get(row, {}).get("grades", {}).get(grade)
                cells.append(f"{g[0] / g[1]:.2f}" if g and g[1] else "")
            lines.append(f"| {family} | {grade} (n={n}) | " + " | ".join(cells) + " |")
    lines.append("")
    if q.get("ceiling"):
        lines += _ceiling(q)
    if detail:
        target = DriftSettings().target
        lines += [f"Every driftline test alone (no correction, no persistence, no accumulation; `auto` = "
                  f"calibrated, target {target[0]:g} per {target[1]:,} windows per test):", "",
                  "| family | test | TPR | FPR | missed streams | delay (windows) |", "|---|---|---|---|---:|---:|"]
        for family, rows in q["families"].items():
            for row, s in rows.items():
                if row not in ROWS:
                    lines.append(f"| {family} | {row} | {_cell(s)} |")
        lines.append("")
    lines += ["Pooled: TPR over every change family, FPR over the no-change windows (all sizes) and the unchanged "
              "features of the change windows:", "",
              "| config or test | TPR | FPR |", "|---|---|---|"]
    for row, (tp, fn, fp, tn) in pooled(q).items():
        tpr = _rate(tp, tp + fn, 2) if tp + fn else "n/a"
        lines.append(f"| {row} | {tpr} | {_rate(fp, fp + tn, 4)} |")
    lines.append("")
    lines += ["False alarms on stable streams (alarm = onset of a model's drift state):", "",
              "| config | events per model | models | window | target per window | alarms | alarms per window "
              "(95 %) | achieved / target | per 100k events per model |",
              "|---|---:|---:|---:|---:|---:|---|---:|---:|"]
    for name, s in q["stable"].items():
        windows = s["events_per_model"] * s["models"] // s["window"]
        lo, hi = wilson(s["alarms"], windows)
        target = s.get("target_per_window", DriftSettings().target_rate)
        lines.append(f"| {name} | {s['events_per_model']:,} | {s['models']} | {s['window']:,} | {target:.4f} | "
                     f"{s['alarms']} | {s['alarms'] / windows:.4f} ({lo:.4f}-{hi:.4f}) | "
                     f"{s['alarms'] / windows / target:.2f} | {s['per_100k_events_per_model']:.2f} |")
    t = q["timing"]
    lines += ["", f"Time over {t['windows']} scored windows: Evidently {t['evidently_s']:.1f} s, driftline (every "
              f"config above, calibration included) {t['driftline_s']:.1f} s; the stable streams "
              f"{t.get('stable_s', 0.0):.1f} s.", ""]
    return lines


def _ceiling(q: dict) -> list[str]:
    """The most powerful test of the normal's mean at a model's budget, beside the default and Evidently."""
    budgets = list(q["ceiling"])
    rows = q["families"].get("mean shift", {})
    lines = ["The ceiling on the mean shifts: the true-positive rate of a test told which feature changed and how "
             "(a z on the window's mean, on the log scale for the log-normal feature) at the budget a model's "
             "false-alarm target gives one of its features (Holm's first step, the default's two-window "
             "accumulation), same windows:", "",
             "| grade | " + " | ".join(f"z on the mean, {b}" for b in budgets) + " | default | Evidently default |",
             "|---|" + "---:|" * (len(budgets) + 2)]
    for grade in q["ceiling"][budgets[0]]:
        cells = [f"{q['ceiling'][b][grade][0] / q['ceiling'][b][grade][1]:.2f}" for b in budgets]
        for row in ("default", "Evidently default"):
            g = rows.get(row, {}).get("grades", {}).get(grade)
            cells.append(f"{g[0] / g[1]:.2f}" if g and g[1] else "")
        lines.append(f"| {grade} (n={q['ceiling'][budgets[0]][grade][1]}) | " + " | ".join(cells) + " |")
    total = [f"{sum(g[0] for g in q['ceiling'][b].values())}" for b in budgets]
    for row in ("default", "Evidently default"):
        total.append(str(rows[row]["tp"]) if row in rows else "")
    windows = sum(g[1] for g in q["ceiling"][budgets[0]].values())
    lines.append(f"| the family (of {windows}) | " + " | ".join(total) + " |")
    return lines + [""]


def pooled(q: dict) -> dict[str, tuple[int, int, int, int]]:
    """``row -> (tp, fn, fp, tn)`` pooled over the families (the seasonal ones excluded)."""
    sums: dict[str, list[int]] = {}
    for family, rows in q["families"].items():
        if family.startswith("seasonality"):
            continue
        for row, s in rows.items():
            acc = sums.setdefault(row, [0, 0, 0, 0])
            for i, key in enumerate(("tp", "fn", "fp", "tn")):
                acc[i] += s[key]
    return {row: tuple(v) for row, v in sums.items()}
