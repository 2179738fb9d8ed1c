"""The checkpoint form of a monitor's reference side and of its river detectors.

The reference side of a :class:`~driftline.stream.monitor.ModelMonitor` is in one of three
states, each snapshotted differently:

* ``{"source": "warmup", "builder": ..., "pca_rows": ...}``: the warm-up is in progress; the
  consumed values (and the numeric rows the PCA will be fitted on) are the state;
* ``{"source": "warmup", "profile": ..., "pca": ...}``: the reference (and the PCA) were built
  from the warm-up: they are state, encoded once (they never change afterwards);
* ``{"source": "config", "digest": ...}``: the reference comes from the config on restore;
  its digest tells whether it is still the one the open windows were binned against.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any

import msgspec
import numpy as np
from driftline.detectors import (
    BaselineHistory,
    ConceptDriftMonitor,
    DetectorStateError,
    DriftSuite,
    PCAReconstructionDrift,
    ReferenceBuilder,
    ReferenceProfile,
    StreamingFeatureDetector,
    pack_array,
    unpack_array,
)

__all__ = ["reference_snapshot", "restore_detectors", "restore_reference"]

log = logging.getLogger("driftline.monitor")


def reference_snapshot(monitor: Any) -> dict[str, Any]:
    """The reference side of ``monitor`` as a JSON-safe dict."""
    m = monitor
    if m.builder is not None:
        rows = None
        if m._pca_warmup is not None:
            rows = {n: pack_array(np.concatenate([part[n] for part in m._pca_warmup]) if m._pca_warmup
                                  else np.empty(0)) for n in m.numeric}
        return {"source": "warmup", "builder": m.builder.snapshot(), "pca_rows": rows}
    if m._reference_state is None:  # the reference never changes once there: encode it once
        if m._reference_from_config:
            # The calibration is left out: it grows on demand and does not change what the reference is.
            digest = hashlib.sha256(msgspec.json.encode(m.reference.to_dict(packed=True, calibration=False))).hexdigest()
            m._reference_state = {"source": "config", "digest": digest}
        else:
            m._reference_state = {"source": "warmup", "profile": m.reference.to_dict(packed=True),
                                  "pca": m.pca.snapshot() if m._pca_in_stream else None}
    return m._reference_state


def restore_reference(monitor: Any, saved: Mapping[str, Any], kinds: Mapping[str, str]) -> bool:
    """Put the saved reference side into a freshly built ``monitor``.

    Returns False when the open windows' drift state cannot be reused: the monitored
    features or the configured reference changed since the checkpoint.
    """
    m = monitor
    if dict(kinds) != m.drift_kinds:
        log.warning("%s/%s: the monitored features changed since the checkpoint; drift state restarts",
                    m.model, m.version)
        return False
    if saved["source"] == "config":
        if m.reference is not None and reference_snapshot(m) == saved:
            return True
        log.warning("%s/%s: the configured reference changed since the checkpoint; drift state restarts",
                    m.model, m.version)
        return False
    if "builder" in saved:
        if m.builder is None:  # a reference configured since then replaces the warm-up in progress
            return True
        m.builder = ReferenceBuilder.restore(m.drift_kinds, saved["builder"], warmup_events=m.builder.warmup_events)
        rows = saved["pca_rows"]
        if m._pca_warmup is not None:
            # Without its rows the PCA is not fitted on a part of the warm-up: it is left out.
            ok = rows is not None and set(rows) == set(m.numeric)
            m._pca_warmup = [{n: unpack_array(rows[n], "<f8") for n in m.numeric}] if ok else None
        return True
    m.reference = ReferenceProfile.from_dict(saved["profile"])
    m.builder = m._pca_warmup = None
    m._reference_from_config = False
    if saved["pca"] is not None and m.settings.multivariate is not None:
        m.pca = PCAReconstructionDrift.restore(saved["pca"])
        m._pca_in_stream = True
    m.suite = DriftSuite(m.reference, m.settings.drift)
    if any(m.settings.drift.baselines):
        m.history = BaselineHistory(m.reference, *m.settings.drift.baselines)
    return True


def restore_detectors(monitor: Any, concept: Mapping[str, Any], streaming: list) -> None:
    """Put the saved concept and streaming detectors into a freshly built ``monitor``
    (streaming ones are matched by position and feature)."""
    m = monitor
    m.concept = _detector(m, ConceptDriftMonitor, m.concept, concept)
    m.streaming = [(feature, _detector(m, StreamingFeatureDetector, fresh, streaming[i][1]
                                       if i < len(streaming) and streaming[i][0] == feature else None))
                   for i, (feature, fresh) in enumerate(m.streaming)]


def _detector(monitor: Any, cls: type, fresh: Any, saved: Mapping[str, Any] | None) -> Any:
    """The saved river detector when it was built with ``fresh``'s type and parameters, else ``fresh``."""
    if saved is None or saved["detector"] != fresh.name or saved["params"] != fresh.params:
        log.info("%s/%s: the %s detector's settings changed since the checkpoint; it starts fresh",
                 monitor.model, monitor.version, fresh.name)
        return fresh
    try:
        return cls.restore(saved)
    except DetectorStateError as exc:
        log.warning("%s/%s: the %s detector's state does not fit this river version (%s); it starts fresh",
                    monitor.model, monitor.version, fresh.name, exc)
        return fresh
