"""The canonical string of a class label or categorical value.

Labels and predictions arrive as JSON numbers, booleans or strings; performance
metrics, drift tests on the predicted class and the stored rows all compare
them as strings, so ``1``, ``1.0`` and ``true`` must give the same key.
"""

from __future__ import annotations

__all__ = ["label_key"]


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
