"""Seeded, offline simulations of champion/challenger experiments: the figures of the closing note.

Every run is monitored at every window with the same vectorised bounds the worker's
:class:`~driftline.detectors.ChampionChallenger` uses (``unpaired_bounds``/``paired_bounds`` of
:mod:`driftline.detectors.sequential`, at the default ``tuned_for`` and ``min_sample``), so
thousands of runs take seconds. ``tests/detectors/test_experiment_simulations.py`` runs the same
functions (and checks them against ``ChampionChallenger`` on a few runs).

* A/A: champion and challenger identical (accuracy 0.90), the challenger on 20% of the traffic;
  the share of runs that *ever* end in ``rollback`` or ``promote`` (the false-positive rate under
  continuous monitoring) must stay at or below alpha + 0.01.
* A/B: a challenger 5 points worse (0.85) or 2 points better (0.92) at 20% of traffic: labelled
  challenger events until ``rollback`` / ``promote`` (median, 90th percentile).
* Paired: a shadow challenger scoring the same requests (shared ``request_id``), 2 points worse
  with 6% of requests answered differently: events to ``rollback`` with the paired test against
  the unpaired one on the same data.

    python -m bench.experiments            # 1,000 runs of each (about a minute)
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np
from driftline.detectors.sequential import (
    DEFAULT_TUNED_FOR,
    paired_bounds,
    tau_for,
    unpaired_bounds,
)

ALPHA = 0.05
MIN_SAMPLE = 100
PER_WINDOW = 250  # labelled events per window, both arms
SHARE = 0.2  # the challenger's share of traffic


@dataclass(frozen=True)
class Outcome:
    """What a set of runs did: the share that decided each way, and the challenger's labelled
    events at the first decision of each run that decided the expected way."""

    runs: int
    rollback_share: float
    promote_share: float
    events_to_decision: np.ndarray

    @property
    def ever_decided(self) -> float:
        return self.rollback_share + self.promote_share

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.events_to_decision, q)) if self.events_to_decision.size else float("nan")


def _first(decided: np.ndarray, events: np.ndarray) -> np.ndarray:
    hit = decided.any(axis=1)
    first = decided.argmax(axis=1)
    return events[np.arange(len(first)), first][hit]


def unpaired_runs(champion_accuracy: float, challenger_accuracy: float, *, runs: int = 1000, windows: int = 400,
                  per_window: int = PER_WINDOW, share: float = SHARE, alpha: float = ALPHA,
                  min_sample: int = MIN_SAMPLE, seed: int = 0, expect: str = "rollback") -> Outcome:
    """Canary/A-B traffic: each labelled event goes to the challenger with probability ``share``."""
    rng = np.random.default_rng(seed)
    nb = rng.binomial(per_window, share, size=(runs, windows))
    na = per_window - nb
    ka, kb = rng.binomial(na, champion_accuracy), rng.binomial(nb, challenger_accuracy)
    n_a, n_b, k_a, k_b = na.cumsum(1), nb.cumsum(1), ka.cumsum(1), kb.cumsum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_a, mean_b = k_a / n_a, k_b / n_b
        var_a = mean_a * (1 - mean_a) * n_a / (n_a - 1)  # the unbiased variance of 0/1 values
        var_b = mean_b * (1 - mean_b) * n_b / (n_b - 1)
    _, lower, upper = unpaired_bounds(mean_a, var_a, n_a, mean_b, var_b, n_b, alpha=alpha,
                                      tau=tau_for(DEFAULT_TUNED_FOR, alpha))
    ready = (n_a >= min_sample) & (n_b >= min_sample)
    worse, better = ready & (upper < 0), ready & (lower > 0)
    return _outcome(worse, better, n_b, expect)


def paired_runs(champion_accuracy: float, lost: float, won: float, *, runs: int = 1000, windows: int = 400,
                per_window: int = 50, alpha: float = ALPHA, min_sample: int = MIN_SAMPLE, seed: int = 0,
                paired: bool = True, expect: str = "rollback") -> Outcome:
    """Shadow traffic: both versions score every request. ``lost`` is the share of requests the
    champion gets right and the challenger wrong, ``won`` the reverse."""
    rng = np.random.default_rng(seed)
    cells = rng.multinomial(per_window, [champion_accuracy - lost, lost, won, 1 - champion_accuracy - won],
                            size=(runs, windows)).cumsum(1)
    both, only_a, only_b = cells[..., 0], cells[..., 1], cells[..., 2]
    n = np.broadcast_to(np.arange(1, windows + 1) * per_window, both.shape)
    tau = tau_for(DEFAULT_TUNED_FOR, alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        if paired:  # differences -1 (lost), 0, +1 (won)
            mean = (only_b - only_a) / n
            var = ((only_a + only_b) - n * mean * mean) / (n - 1)
            _, lower, upper = paired_bounds(mean, var, n, alpha=alpha, tau=tau)
        else:
            mean_a, mean_b = (both + only_a) / n, (both + only_b) / n
            var_a, var_b = mean_a * (1 - mean_a) * n / (n - 1), mean_b * (1 - mean_b) * n / (n - 1)
            _, lower, upper = unpaired_bounds(mean_a, var_a, n, mean_b, var_b, n, alpha=alpha, tau=tau)
    ready = n >= min_sample
    return _outcome(ready & (upper < 0), ready & (lower > 0), n, expect)


def _outcome(worse: np.ndarray, better: np.ndarray, events: np.ndarray, expect: str) -> Outcome:
    first_worse = np.where(worse.any(1), worse.argmax(1), worse.shape[1])
    first_better = np.where(better.any(1), better.argmax(1), better.shape[1])
    rolled = first_worse < first_better
    promoted = first_better < first_worse
    decided = worse if expect == "rollback" else better
    return Outcome(len(worse), float(rolled.mean()), float(promoted.mean()), _first(decided, events))


def closing_figures(runs: int = 1000) -> dict[str, float]:
    """The figures of the closing note, from ``runs`` runs of each simulation."""
    aa = unpaired_runs(0.90, 0.90, runs=runs, windows=400, seed=1)
    worse = unpaired_runs(0.90, 0.85, runs=runs, windows=400, seed=2)
    better = unpaired_runs(0.90, 0.92, runs=runs, windows=1600, seed=3, expect="promote")
    paired = paired_runs(0.90, 0.04, 0.02, runs=runs, seed=4)
    unpaired = paired_runs(0.90, 0.04, 0.02, runs=runs, seed=4, paired=False)
    return {
        "aa_ever_decided": aa.ever_decided,
        "aa_rollback": aa.rollback_share,
        "aa_promote": aa.promote_share,
        "worse_decided": worse.rollback_share,
        "worse_median": worse.percentile(50),
        "worse_p90": worse.percentile(90),
        "better_decided": better.promote_share,
        "better_median": better.percentile(50),
        "better_p90": better.percentile(90),
        "paired_median": paired.percentile(50),
        "unpaired_median": unpaired.percentile(50),
        "paired_saving": 1 - paired.percentile(50) / unpaired.percentile(50),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    args = parser.parse_args()
    f = closing_figures(args.runs)
    print(f"A/A ({args.runs} runs, 20% challenger, 20,000 challenger events each): ever rollback or promote "
          f"{f['aa_ever_decided']:.1%} (rollback {f['aa_rollback']:.1%}, promote {f['aa_promote']:.1%}); "
          f"alpha {ALPHA}")
    print(f"-5 points at 20%: rollback in {f['worse_decided']:.1%} of runs; labelled challenger events to rollback: "
          f"median {f['worse_median']:,.0f}, p90 {f['worse_p90']:,.0f}")
    print(f"+2 points at 20%: promote in {f['better_decided']:.1%} of runs; labelled challenger events to promote: "
          f"median {f['better_median']:,.0f}, p90 {f['better_p90']:,.0f}")
    print(f"shadow, -2 points, 6% discordant: median events to rollback paired {f['paired_median']:,.0f} vs "
          f"unpaired {f['unpaired_median']:,.0f}: {f['paired_saving']:.0%} fewer")


if __name__ == "__main__":
    main()
