"""Which store errors are the data's fault, and which mean "try again later".

An insert fails for one of two reasons:

* the store is away or busy (connection lost, server down, a timeout, a memory limit, too
  many parts while merges catch up): the same insert works later, so the error is a
  retriable :class:`~driftline.sinks.errors.StoreError` and the worker pauses and retries;
* the store refuses these rows (a value its column cannot hold, a batch spanning more
  partitions than one insert may create): the same insert fails forever, so the error is
  :class:`~driftline.sinks.errors.StoreRejected` and the writer isolates the rows at fault.

ClickHouse says which by its error code (clickhouse-driver's ``ServerException.code``; the
``Code: N.`` at the start of chdb's and the driver's messages). A value the client cannot
even encode (clickhouse-driver packing a ``DateTime`` before 1970, pyarrow an out-of-range
integer) is refused too. Anything not known to be the data's fault is retriable: a paused
worker loses nothing, while a rejected row leaves the tables for the dead-letter topic.

>>> insert_error(RuntimeError("Code: 252. DB::Exception: Too many partitions for single INSERT "
...                           "block (more than 100)."), table="predictions", store="chdb").too_many_partitions
True
>>> insert_error(ConnectionResetError("reset by peer"), table="predictions", store="ClickHouse").retriable
True
"""

from __future__ import annotations

import re
import struct

from .errors import StoreError, StoreRejected

__all__ = ["REJECTED_CODES", "TOO_MANY_PARTS", "error_code", "insert_error", "summary"]

# ClickHouse error codes that mean "these rows, as they are, will never be accepted".
REJECTED_CODES = {
    6: "CANNOT_PARSE_TEXT",
    27: "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
    38: "CANNOT_PARSE_DATE",
    41: "CANNOT_PARSE_DATETIME",
    53: "TYPE_MISMATCH",
    69: "ARGUMENT_OUT_OF_BOUND",
    70: "CANNOT_CONVERT_TYPE",
    72: "CANNOT_PARSE_NUMBER",
    117: "INCORRECT_DATA",
    131: "TOO_LARGE_STRING_SIZE",
    321: "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
    349: "CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN",
    469: "VIOLATED_CONSTRAINT",
}
# One code, two meanings: "Too many partitions for single INSERT block" is the batch's fault;
# "Too many parts" is a server whose merges lag behind, which passes.
TOO_MANY_PARTS = 252
_TOO_MANY_PARTITIONS = "partitions for single insert block"

# Raised by a client while it encodes the batch: the values, not the connection, are at fault.
_ENCODING_ERRORS = (ValueError, TypeError, OverflowError, struct.error)
_CODE = re.compile(r"Code:\s*(\d+)")
MAX_MESSAGE_CHARS = 1_000


def insert_error(exc: BaseException, *, table: str, store: str) -> StoreError:
    """The :class:`StoreError` (retriable) or :class:`StoreRejected` an insert's ``exc`` means."""
    code = error_code(exc)
    message = summary(exc)
    if code is None and isinstance(exc, _ENCODING_ERRORS):
        return StoreRejected(f"{store} cannot take the rows for {table}: {message}")
    if code == TOO_MANY_PARTS and _TOO_MANY_PARTITIONS in message.lower():
        return StoreRejected(f"{store} refused the insert into {table}: {message}", code=code,
                             too_many_partitions=True)
    if code in REJECTED_CODES:
        return StoreRejected(f"{store} refused the insert into {table}: {message}", code=code)
    return StoreError(f"{store} insert into {table} failed: {message}")


def error_code(exc: BaseException) -> int | None:
    """The ClickHouse error code of ``exc`` (its ``code`` attribute, or ``Code: N`` in its text)."""
    code = getattr(exc, "code", None)
    if isinstance(code, int) and code > 0:
        return code
    match = _CODE.search(str(exc))
    return int(match.group(1)) if match else None


def summary(exc: BaseException) -> str:
    """The message of ``exc`` on one line, without the server's stack trace, at most 1000 chars."""
    text = str(exc).split("Stack trace:", 1)[0]
    return " ".join(text.split())[:MAX_MESSAGE_CHARS] or type(exc).__name__
