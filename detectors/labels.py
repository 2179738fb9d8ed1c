"""The canonical string of a class label or categorical value.

Labels and predictions arrive as JSON numbers, booleans or strings; performance
metrics, drift tests on the predicted class and the stored rows all compare
them as strings, so ``1``, ``1.0`` and ``true`` must give the same key.
"""

from __future__ import annotations

__all__ = ["boolean_key", "label_key"]


def label_key(value) -> str:
    """Canonical string of a class label or categorical value: 1, 1.0 and True all give ``"1"``.

    >>> label_key(1.0), label_key(True), label_key("yes"), label_key(2.5)
    ('1', '1', 'yes', '2.5')
    """
    if type(value) is str:
        return value
    key = _LABEL_KEYS.get(value)  # 1 == 1.0 == True hash alike, and so map to one key
    if key is None:
        if isinstance(value, bool):
            key = "1" if value else "0"
        elif isinstance(value, float) and value.is_integer():
            key = str(int(value))
        else:
            key = str(value)
        if len(_LABEL_KEYS) < 4096:  # classes are few; regression values are not cached for long
            _LABEL_KEYS[value] = key
    return key


_LABEL_KEYS: dict = {}


_BOOLEAN_KEYS = {"true": "1", "false": "0", "1": "1", "0": "0"}


def boolean_key(value) -> str | None:
    """Canonical key of a boolean value, the same as :func:`label_key` gives ``True``/``False``:
    JSON ``true``, the number 1 and the text ``"True"``/``"true"``/``"1"`` are all ``"1"``.
    None when ``value`` is not boolean-like (or missing).

    >>> boolean_key(True), boolean_key(0.0), boolean_key("FALSE"), boolean_key("yes"), boolean_key(None)
    ('1', '0', '0', None, None)
    """
    if isinstance(value, str):
        return _BOOLEAN_KEYS.get(value.strip().lower())
    if isinstance(value, bool | int | float) and value in (0, 1):
        return "1" if value else "0"
    return None
