"""The checkpoint form of a monitor's reference side and of its river detectors.

The reference side of a :class:`~driftline.stream.monitor.ModelMonitor` is in one of three
states, each snapshotted differently:

* ``{"source": "warmup", "builder": ..., "pca_rows": ...}``: the warm-up is in progress; the
  consumed values (and the numeric rows the PCA will be fitted on) are the state;
* ``{"source": "warmup", "profile": ..., "pca": ...}``: the reference (and the PCA) were built
  from the warm-up: they are state, encoded once (they never change afterwards);
* ``{"source": "config", "digest": ...}``: the reference comes from the config on restore;
  its digest tells whether it is still the one the open windows were binned against.

The rule when the configured reference is not the one a checkpointed version used (a profile
file rebuilt, a model switched from ``warmup_events`` to a profile or back): **the config wins**.
The version is monitored against the configured reference (or starts a new warm-up) from the
restore on; its drift state (open windows' sketches, persistence, an in-stream PCA) restarts,
as it was binned against the other one; a WARNING names both references by source and digest,
:func:`reference_info` says which one is in use (``driftline_reference_info`` and the status
page), and ``monitor.reference_replaced`` the one it replaced. A warm-up reference stays its
version's own once built: changing ``warmup_events`` does not rebuild it.
"""

from __future__ import annotations

import hashlib
import logging
import weakref
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

__all__ = ["SHORT_DIGEST", "reference_digest", "reference_info", "reference_snapshot", "restore_detectors",
           "restore_reference"]

log = logging.getLogger("driftline.monitor")

SHORT_DIGEST = 12  # hex digits of a reference's digest shown in logs, metrics and the status page
_DIGESTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # profile -> digest: each is hashed once


def reference_digest(profile: ReferenceProfile) -> str:
    """sha256 (hex) of a profile's canonical JSON: the same reference has the same digest in every worker."""
    digest = _DIGESTS.get(profile)
    if digest is None:
        digest = _DIGESTS[profile] = _digest_of(profile.to_dict(packed=True, calibration=False))
    return digest


def _digest_of(profile_dict: Mapping[str, Any]) -> str:
    return hashlib.sha256(msgspec.json.encode(profile_dict)).hexdigest()


def reference_info(monitor: Any) -> tuple[str, str]:
    """``(source, digest)`` of the reference a version uses: source ``profile`` or ``path`` (configured)
    or ``warmup``; the digest's first :data:`SHORT_DIGEST` hex digits, ``""`` while the warm-up runs."""
    m = monitor
    if m.reference is None:
        return "warmup", ""
    source = ("profile" if m.settings.reference_profile else "path") if m._reference_from_config else "warmup"
    return source, reference_digest(m.reference)[:SHORT_DIGEST]


def _replaced(monitor: Any, old: str, why: str) -> None:
    """The config wins over the checkpoint's reference: say so, once, where an operator looks."""
    m = monitor
    source, digest = reference_info(m)
    now = f"the warm-up of {m.builder.warmup_events} events that starts now" if m.builder is not None \
        else f"the configured {source} (sha256 {digest})"
    m.reference_replaced = old
    log.warning("%s/%s: %s; %s replaces the checkpointed %s: the config wins, drift state restarts on it",
                m.model, m.version, why, now, old)


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
            m._reference_state = {"source": "config", "digest": reference_digest(m.reference)}
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
        old = f"configured reference (sha256 {saved['digest'][:SHORT_DIGEST]})"
        _replaced(m, old, "the configured reference changed since the checkpoint" if m.reference is not None
                  else "the reference was removed from the config")
        return False
    if "builder" in saved:
        if m.builder is None:  # a reference configured since then replaces the warm-up in progress
            _replaced(m, "warm-up in progress", "a reference was configured since the checkpoint")
            return True
        m.builder = ReferenceBuilder.restore(m.drift_kinds, saved["builder"], warmup_events=m.builder.warmup_events)
        rows = saved["pca_rows"]
        if m._pca_warmup is not None:
            # Without its rows the PCA is not fitted on a part of the warm-up: it is left out.
            ok = rows is not None and set(rows) == set(m.numeric)
            m._pca_warmup = [{n: unpack_array(rows[n], "<f8") for n in m.numeric}] if ok else None
        return True
    if m._reference_from_config:
        # Before issue 18 the warm-up reference silently stayed: a profile configured later was ignored.
        _replaced(m, f"warm-up reference (sha256 {_digest_of(saved['profile'])[:SHORT_DIGEST]})",
                  "a reference was configured since the checkpoint")
        return False
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
