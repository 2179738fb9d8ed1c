"""Rolling baselines: a window compared with the previous ``k`` windows, or the same window last period.

The fixed reference answers "does this differ from training?"; a rolling baseline answers "did
it change since yesterday?" and does not alarm on a daily cycle the reference never saw.
:class:`BaselineHistory` keeps the last closed windows' sketches of one model (their counts on
the reference's bins and fine grid) by window index (``start_ms // window_ms``), so a gap in
the stream leaves no window where there was none:

* ``previous_k``: the windows ``i - k .. i - 1`` that exist, merged (counts add up);
* ``last_period_p``: window ``i - p``, when it exists.

Mergeable: a window's sketch is counts; the history is a function of the closed windows, not
of arrival order, and two partitions' partial windows merge before they are pushed. Bounded:
at most ``max(k, p)`` sketches (``p <= MAX_PERIOD``).

>>> import numpy as np
>>> from driftline.detectors import ReferenceProfile, WindowSketch
>>> ref = ReferenceProfile.from_columns({"x": "numeric"}, {"x": np.arange(100.0)}, bins=4)
>>> h = BaselineHistory(ref, previous=2, period=3)
>>> for i in range(4):
...     w = WindowSketch(ref); w.update({"x": np.full(10 * (i + 1), float(i))}); h.push(i, w)
>>> {name: b.n for name, b in h.baselines(4).items()}
{'previous_2': 70, 'last_period_3': 20}
>>> BaselineHistory.restore(ref, h.snapshot()).snapshot() == h.snapshot()
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._checks import check_int
from .profile import ReferenceProfile
from .settings import MAX_PERIOD
from .window import WindowSketch

__all__ = ["MAX_PERIOD", "BaselineHistory"]


class BaselineHistory:
    """The last closed windows of one model, by window index; see the module docstring."""

    def __init__(self, profile: ReferenceProfile, previous: int = 0, period: int = 0) -> None:
        self.profile = profile
        self.previous = check_int("previous", previous, low=0, high=MAX_PERIOD)
        self.period = check_int("period", period, low=0, high=MAX_PERIOD)
        self.windows: dict[int, WindowSketch] = {}

    @property
    def names(self) -> tuple[str, ...]:
        """The baselines this history gives, in order."""
        return tuple(n for n, on in ((f"previous_{self.previous}", self.previous),
                                     (f"last_period_{self.period}", self.period)) if on)

    def baselines(self, index: int) -> dict[str, WindowSketch]:
        """``name -> baseline sketch`` for window ``index`` (absent while the history is too short)."""
        out: dict[str, WindowSketch] = {}
        if self.previous:
            merged = None
            for i in range(index - self.previous, index):
                w = self.windows.get(i)
                if w is not None:
                    if merged is None:
                        merged = WindowSketch(self.profile)
                    merged.merge(w)
            if merged is not None and merged.n:
                out[f"previous_{self.previous}"] = merged
        if self.period:
            w = self.windows.get(index - self.period)
            if w is not None and w.n:
                out[f"last_period_{self.period}"] = w
        return out

    def push(self, index: int, sketch: WindowSketch) -> None:
        """Keep window ``index``'s sketch; forget those no baseline can reach any more."""
        self.windows[index] = sketch
        keep = max(self.previous, self.period)
        for i in [i for i in self.windows if i <= index - keep]:
            del self.windows[i]

    def snapshot(self) -> dict[str, Any]:
        """JSON-safe state: the kept windows' sketches."""
        return {"previous": self.previous, "period": self.period,
                "windows": [[i, self.windows[i].snapshot()] for i in sorted(self.windows)]}

    @classmethod
    def restore(cls, profile: ReferenceProfile, s: Mapping[str, Any]) -> BaselineHistory:
        h = cls(profile, int(s["previous"]), int(s["period"]))
        h.windows = {int(i): WindowSketch.restore(profile, w) for i, w in s["windows"]}
        return h
