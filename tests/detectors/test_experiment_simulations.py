"""Done-when simulations of issue 13, seeded and offline: A/A false positives under continuous
monitoring, A/B detection delays, paired against unpaired. ``python -m bench.experiments`` prints
the closing figures (1,000 runs each); these tests bound the same quantities."""

from __future__ import annotations

import numpy as np
from driftline.detectors import ChampionChallenger, ExperimentDesign, Moments

from bench.experiments import ALPHA, MIN_SAMPLE, paired_runs, unpaired_runs


def test_aa_runs_monitored_at_every_window_rarely_ever_decide():
    aa = unpaired_runs(0.90, 0.90, runs=1000, windows=400, seed=1)
    assert aa.runs == 1000
    assert aa.ever_decided <= ALPHA + 0.01, aa
    assert 0 < aa.ever_decided  # the bound is not met by never deciding anything


def test_a_worse_canary_is_rolled_back_and_a_better_one_promoted():
    worse = unpaired_runs(0.90, 0.85, runs=1000, windows=400, seed=2)
    assert worse.rollback_share >= 0.99 and worse.promote_share == 0.0
    assert 400 <= worse.percentile(50) <= 800 and worse.percentile(90) <= 1300, worse
    better = unpaired_runs(0.90, 0.92, runs=300, windows=1600, seed=3, expect="promote")
    assert better.promote_share >= 0.99 and better.rollback_share <= 0.01
    assert 1200 <= better.percentile(50) <= 2500 and better.percentile(90) <= 6000, better


def test_pairing_by_request_needs_far_fewer_events():
    paired = paired_runs(0.90, 0.04, 0.02, runs=300, seed=4)
    unpaired = paired_runs(0.90, 0.04, 0.02, runs=300, seed=4, paired=False)
    assert paired.rollback_share >= 0.99
    assert paired.percentile(50) <= 0.5 * unpaired.percentile(50), (paired.percentile(50), unpaired.percentile(50))
    # An identical shadow (as many requests won as lost) rarely decides.
    aa = paired_runs(0.90, 0.03, 0.03, runs=1000, seed=5)
    assert aa.ever_decided <= ALPHA + 0.01


def test_the_vectorised_simulation_takes_the_workers_decisions():
    """The same counts through ChampionChallenger, window by window, decide at the same window."""
    rng = np.random.default_rng(11)
    design = ExperimentDesign(metric="accuracy", alpha=ALPHA, min_sample=MIN_SAMPLE)
    for accuracy in (0.85, 0.90, 0.93):
        counts = []
        cc = ChampionChallenger(design)
        decided_at = None
        for w in range(120):
            nb = int(rng.binomial(250, 0.2))
            ka, kb = int(rng.binomial(250 - nb, 0.90)), int(rng.binomial(nb, accuracy))
            counts.append((250 - nb, ka, nb, kb))
            window = cc.new_window(w * 60_000, (w + 1) * 60_000)
            window.champion.labels["accuracy"] = Moments(250 - nb, ka, ka)
            window.challenger.labels["accuracy"] = Moments(nb, kb, kb)
            e = cc.close(window)
            if e.changed:
                decided_at = (w, e.verdict)
        na, ka, nb, kb = (np.cumsum(c) for c in zip(*counts, strict=True))
        expected = _vector_decision(na, ka, nb, kb)
        assert decided_at == expected, (accuracy, decided_at, expected)


def _vector_decision(na, ka, nb, kb):
    from driftline.detectors.sequential import DEFAULT_TUNED_FOR, tau_for, unpaired_bounds

    ma, mb = ka / na, kb / nb
    _, lo, hi = unpaired_bounds(ma, ma * (1 - ma) * na / (na - 1), na, mb, mb * (1 - mb) * nb / (nb - 1), nb,
                                alpha=ALPHA, tau=tau_for(DEFAULT_TUNED_FOR, ALPHA))
    ready = (na >= MIN_SAMPLE) & (nb >= MIN_SAMPLE)
    for w in range(len(na)):
        if ready[w] and hi[w] < 0:
            return (w, "rollback")
        if ready[w] and lo[w] > 0:
            return (w, "promote")
    return None
