"""The state of a river drift detector as data, from an allowlist of types: no pickle.

river keeps a detector's state in plain attributes: numbers, a few ``river.stats``
objects, a ``deque``, a ``random.Random``, and two Rust helpers (ADWIN's window,
the exponentially weighted mean) that expose their state as bytes through
``__getstate__``/``__setstate__`` (a data format, not code). :func:`encode_river`
turns every attribute into a tagged JSON-safe value and refuses anything else;
:func:`restore_river` writes them back onto a detector freshly constructed from its
parameters. Objects are never constructed from the snapshot: an object attribute is
restored into the object the detector's own constructor made, which must be of the
type the snapshot names. An attribute or a type this build does not know is an error
(:class:`~driftline.detectors.errors.DetectorStateError`).

>>> from river import drift
>>> a = drift.PageHinkley()
>>> for x in [0.0, 1.0] * 50: _ = a.update(x)
>>> state = encode_river(a)
>>> state["_x_mean"]
['object', {'type': 'Mean', 'attrs': {'n': ['float', 100.0], '_mean': ['float', 0.5]}}]
>>> b = drift.PageHinkley()
>>> restore_river(b, state)
>>> encode_river(b) == state
True
"""

from __future__ import annotations

import base64
import random
from collections import deque
from collections.abc import Mapping
from typing import Any

import numpy as np
from river import stats
from river.drift.binary.hddm_w import SampleInfo

from .errors import DetectorStateError
from .packing import decode_float, encode_float, pack_array, unpack_array

__all__ = ["encode_river", "restore_river"]

# Python objects inside river detectors whose attributes are encoded recursively.
_OBJECTS: dict[str, type] = {"Mean": stats.Mean, "Var": stats.Var, "EWMean": stats.EWMean, "SampleInfo": SampleInfo}
# Rust helpers whose __getstate__ is bytes and whose __setstate__ takes them back.
_RUST = ("AdaptiveWindowing", "RsEWMean")
_SCALARS = (type(None), bool, int, float, str)


def encode_river(obj: Any, path: str = "river") -> dict[str, list]:
    """Every attribute of ``obj`` (a river detector) as a tagged JSON-safe value."""
    return {name: _encode(obj, value, f"{path}.{name}") for name, value in vars(obj).items()}


def _encode(owner: Any, value: Any, path: str) -> list:
    kind = type(value)
    if value is None:
        return ["none", None]
    if kind is bool:
        return ["bool", value]
    if kind is int:
        return ["int", value]
    if kind in (float, np.float64):
        return ["float", encode_float(value)]
    if kind is str:
        return ["str", value]
    if kind is deque:
        return ["deque", [encode_float(v) for v in value]]
    if kind is random.Random:
        version, internal, gauss = value.getstate()
        return ["random", {"version": version, "internal": pack_array(np.array(internal, dtype=np.uint32)),
                           "gauss_next": None if gauss is None else encode_float(gauss)}]
    if kind.__name__ in _RUST and kind.__module__.startswith("river."):
        return ["rust", {"type": kind.__name__, "bytes": base64.b64encode(value.__getstate__()).decode("ascii")}]
    if _OBJECTS.get(kind.__name__) is kind:
        return ["object", {"type": kind.__name__, "attrs": encode_river(value, path)}]
    if callable(value) and getattr(value, "__self__", None) is owner:
        # A method chosen from the parameters (PageHinkley's test for its ``mode``): the fresh
        # detector picks the same one, restore only checks that it did.
        return ["method", value.__func__.__name__]
    raise DetectorStateError(f"{path}: {kind.__module__}.{kind.__qualname__} is not a known river state type")


def restore_river(obj: Any, state: Mapping[str, Any], path: str = "river") -> None:
    """Write :func:`encode_river` output onto ``obj``, freshly constructed with the same parameters."""
    if not isinstance(state, Mapping):
        raise DetectorStateError(f"{path}: expected an object, got {type(state).__name__}")
    fresh = vars(obj)
    for name, tagged in state.items():
        where = f"{path}.{name}"
        if name not in fresh:
            raise DetectorStateError(f"{where}: {type(obj).__name__} has no such attribute")
        if not (isinstance(tagged, list) and len(tagged) == 2 and isinstance(tagged[0], str)):
            raise DetectorStateError(f"{where}: expected a [tag, value] pair")
        setattr(obj, name, _decode(obj, fresh[name], tagged[0], tagged[1], where))


def _decode(owner: Any, current: Any, tag: str, value: Any, path: str) -> Any:
    scalar_slot = type(current) in _SCALARS or type(current) is np.float64
    if tag in ("none", "bool", "int", "float", "str"):
        if not scalar_slot:
            raise DetectorStateError(f"{path}: a {tag} where the detector holds a {type(current).__name__}")
        expected = {"none": type(None), "bool": bool, "int": int, "str": str}.get(tag)
        if tag == "float":
            return decode_float(value, path)
        if type(value) is not expected:
            raise DetectorStateError(f"{path}: {value!r} is not a {tag}")
        return value
    if tag == "deque":
        if type(current) is not deque or not isinstance(value, list):
            raise DetectorStateError(f"{path}: a deque where the detector holds a {type(current).__name__}")
        return deque((decode_float(v, path) for v in value), maxlen=current.maxlen)
    if tag == "random":
        if type(current) is not random.Random or not isinstance(value, Mapping):
            raise DetectorStateError(f"{path}: a random.Random where the detector holds a {type(current).__name__}")
        internal = tuple(int(v) for v in unpack_array(value["internal"], "<u4"))
        gauss = value["gauss_next"]
        try:
            current.setstate((value["version"], internal, None if gauss is None else decode_float(gauss, path)))
        except (TypeError, ValueError) as exc:
            raise DetectorStateError(f"{path}: not a random.Random state ({exc})") from exc
        return current
    if tag == "rust":
        if not isinstance(value, Mapping) or type(current).__name__ != value.get("type") or value["type"] not in _RUST:
            raise DetectorStateError(f"{path}: a {value.get('type') if isinstance(value, Mapping) else value!r} "
                                     f"where the detector holds a {type(current).__name__}")
        try:
            current.__setstate__(base64.b64decode(value["bytes"], validate=True))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # bad bytes make the Rust side panic: pyo3's PanicException
            raise DetectorStateError(f"{path}: the {value['type']} state is not valid ({exc})") from exc
        return current
    if tag == "object":
        name = value.get("type") if isinstance(value, Mapping) else None
        if name not in _OBJECTS or type(current) is not _OBJECTS[name]:
            raise DetectorStateError(f"{path}: a {name!r} where the detector holds a {type(current).__name__}")
        restore_river(current, value["attrs"], path)
        return current
    if tag == "method":
        if getattr(current, "__self__", None) is not owner or current.__func__.__name__ != value:
            raise DetectorStateError(f"{path}: method {value!r} does not match the detector's parameters")
        return current
    raise DetectorStateError(f"{path}: unknown tag {tag!r}")
