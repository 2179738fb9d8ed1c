"""Numpy arrays and non-finite floats inside JSON-safe snapshots.

Arrays are raw little-endian bytes in base64, dtype and shape named.

A packed array is ``{"dtype": "<f8", "shape": [n], "data": "<base64>"}``: about 11 characters
per float64 where a JSON list needs up to 24, and exact (no decimal round trip). Only the
dtypes of :data:`DTYPES` are accepted on the way back, and the byte count must match the shape.
A float that may be NaN or infinite goes through :func:`encode_float` (JSON has no token for them).

>>> a = np.array([[1.5, -2.0], [np.nan, 4.0]])
>>> packed = pack_array(a)
>>> packed["dtype"], packed["shape"]
('<f8', [2, 2])
>>> b = unpack_array(packed, "<f8")
>>> bool(np.array_equal(a, b, equal_nan=True)), b.flags.writeable
(True, True)
>>> encode_float(float("inf")), decode_float("nan") != decode_float("nan")
('inf', True)
>>> unpack_array({"dtype": "|O", "shape": [1], "data": ""})
Traceback (most recent call last):
...
driftline.detectors.errors.DetectorStateError: dtype: '|O' is not a packed array type (expected one of: <f8, <i8, <u4)
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .errors import DetectorStateError

__all__ = ["DTYPES", "decode_float", "encode_float", "pack_array", "unpack_array"]

DTYPES = {"<f8": np.dtype("<f8"), "<i8": np.dtype("<i8"), "<u4": np.dtype("<u4")}


def pack_array(a: np.ndarray) -> dict[str, Any]:
    """``a`` (float64, int64 or uint32) as a JSON-safe dict."""
    arr = np.asarray(a)
    dtype = arr.dtype.newbyteorder("<")
    if dtype.str not in DTYPES:
        raise DetectorStateError(f"dtype: {arr.dtype.str!r} cannot be packed (expected one of: {', '.join(DTYPES)})")
    data = np.ascontiguousarray(arr, dtype=dtype).tobytes()
    return {"dtype": dtype.str, "shape": list(arr.shape), "data": base64.b64encode(data).decode("ascii")}


def unpack_array(packed: Mapping[str, Any], dtype: str | None = None) -> np.ndarray:
    """The writable array of a :func:`pack_array` dict; ``dtype``, when given, must match."""
    if not isinstance(packed, Mapping) or set(packed) != {"dtype", "shape", "data"}:
        raise DetectorStateError(f"array: expected a packed array {{dtype, shape, data}}, got {type(packed).__name__}")
    name, shape = packed["dtype"], packed["shape"]
    if name not in DTYPES:
        raise DetectorStateError(f"dtype: {name!r} is not a packed array type (expected one of: {', '.join(DTYPES)})")
    if dtype is not None and name != dtype:
        raise DetectorStateError(f"dtype: {name!r} where {dtype!r} was expected")
    if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
        raise DetectorStateError(f"shape: {shape!r} is not a list of non-negative ints")
    try:
        data = binascii.a2b_base64(packed["data"], strict_mode=True)
    except (binascii.Error, TypeError, ValueError) as exc:
        raise DetectorStateError(f"data: not base64 ({exc})") from exc
    expected = math.prod(shape) * DTYPES[name].itemsize
    if len(data) != expected:
        raise DetectorStateError(f"data: {len(data)} bytes where shape {shape} of {name} needs {expected}")
    return np.frombuffer(data, dtype=DTYPES[name]).astype(DTYPES[name].newbyteorder("="), copy=True).reshape(shape)


def encode_float(x: float) -> float | str:
    """A float as JSON allows it: non-finite values as ``"nan"``, ``"inf"``, ``"-inf"``."""
    x = float(x)
    return x if math.isfinite(x) else repr(x)


def decode_float(x: Any, path: str = "value") -> float:
    """Inverse of :func:`encode_float`."""
    if type(x) in (int, float) or x in ("nan", "inf", "-inf"):
        return float(x)
    raise DetectorStateError(f"{path}: {x!r} is not a float")
