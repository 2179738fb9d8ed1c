"""Operational window metrics: throughput and label coverage, as the worker reports them."""

from __future__ import annotations

from .results import MetricValue

__all__ = ["label_coverage", "throughput"]


def throughput(n_events: int, window_start_ms: int, window_end_ms: int) -> MetricValue:
    """Events per second over ``[window_start_ms, window_end_ms)``.

    >>> throughput(1200, 0, 60_000)
    MetricValue(name='throughput_per_s', value=20.0, n=1200)
    """
    span_ms = window_end_ms - window_start_ms
    if span_ms <= 0:
        raise ValueError(f"window_end_ms: {window_end_ms!r} must be after window_start_ms ({window_start_ms!r})")
    return MetricValue("throughput_per_s", n_events / (span_ms / 1000), int(n_events))


def label_coverage(n_predictions: int, n_labels: int) -> MetricValue:
    """Share of the window's predictions whose ground-truth label has arrived, at most 1 (0 when no predictions).

    Labels are counted in the window of their own (join) time and predictions in theirs,
    so a window can hold more labels than predictions: coverage is capped at 1. The
    worker reports no coverage for a window without predictions.

    >>> label_coverage(200, 50)
    MetricValue(name='label_coverage', value=0.25, n=200)
    >>> label_coverage(10, 12).value
    1.0
    """
    if n_predictions < 0 or n_labels < 0:
        raise ValueError("n_predictions/n_labels: counts must be >= 0")
    return MetricValue("label_coverage", min(1.0, n_labels / n_predictions) if n_predictions else 0.0,
                       int(n_predictions))
