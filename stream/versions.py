"""How many versions of a model live on a partition, and where the events of one more go.

Each live version costs a monitor (reference, open windows, detectors) and an alert
engine, and both go into every checkpoint, so their number is capped per model
(``worker.versions.max_per_model``). A new version past the cap first retires the
version idle longest, if one is retirable: no event or label for ``retire_after`` of
processing time, no open window, no firing alert. Otherwise its events are monitored
as the version ``_other`` (one per model), rather than dead-lettered: they are still
stored with their own version, labels still join them, and the model's traffic as a
whole is still watched for drift; a producer that puts a build number or a timestamp in
``version`` costs one extra monitor, not one per value.

>>> from types import SimpleNamespace
>>> from driftline.settings import VersionLimits
>>> idle = SimpleNamespace(windows={}, label_windows={}, last_event_at_ms=0, last_label_at_ms=0)
>>> state = SimpleNamespace(monitors={("m", "v1"): idle}, engines={})
>>> limits = VersionLimits(max_per_model=1, retire_after_ms=60_000)
>>> admit_version(state, "m", "v2", 30_000, limits), admit_version(state, "m", "v2", 90_000, limits)
('_other', 'v2')
>>> list(state.monitors)  # v1 was retired to make room
[]
"""

from __future__ import annotations

import logging
from typing import Any

from driftline.settings import VersionLimits

__all__ = ["OTHER_VERSION", "admit_version"]

OTHER_VERSION = "_other"

log = logging.getLogger("driftline.versions")


def admit_version(state: Any, model: str, version: str, now_ms: int, limits: VersionLimits) -> str:
    """The version under which ``model``'s events of ``version`` are monitored in ``state``
    (a :class:`~driftline.stream.partition.PartitionState`): ``version`` itself, or ``_other``."""
    monitors = state.monitors
    if (model, version) in monitors or version == OTHER_VERSION:
        return version
    live = [key for key in monitors if key[0] == model and key[1] != OTHER_VERSION]
    if len(live) < limits.max_per_model:
        return version
    retirable = [key for key in live if _retirable(monitors[key], state.engines.get(key), now_ms, limits)]
    if not retirable:
        if (model, OTHER_VERSION) not in monitors:
            log.warning("%s: more than %d live versions on this partition (worker.versions.max_per_model); "
                        "version %r and any further new one are monitored as %r", model, limits.max_per_model,
                        version[:100], OTHER_VERSION)
        return OTHER_VERSION
    oldest = min(retirable, key=lambda key: (_last_active(monitors[key]), key[1]))
    log.info("%s: version %r retired (idle since %d ms) to make room for version %r", model, oldest[1][:100],
             _last_active(monitors[oldest]), version[:100])
    del monitors[oldest]
    state.engines.pop(oldest, None)
    return version


def _last_active(monitor: Any) -> int:
    return max(monitor.last_event_at_ms, monitor.last_label_at_ms)


def _retirable(monitor: Any, engine: Any, now_ms: int, limits: VersionLimits) -> bool:
    return (not monitor.windows and not monitor.label_windows
            and now_ms - _last_active(monitor) >= limits.retire_after_ms
            and (engine is None or not engine.active()))
