"""The checkpoint document: how a partition's state is stored, and which versions load.

Version 2 (this build) is a JSON object built from each component's ``snapshot()``::

    {"format": "driftline.checkpoint", "version": 2, "partition": 3,
     "offsets": {"<topic>": <next offset>, ...},
     "monitors": [<ModelMonitor.snapshot()>, ...], "join": <LabelJoin.snapshot()>,
     "engines": [{"model": ..., "version": ..., "state": <AlertEngine.snapshot()>}, ...],
     "experiments": [{"name": ..., "state": <ExperimentTracker.snapshot()>}, ...],
     "lifecycle": <Lifecycle.snapshot()>, "lifecycle_engine": <AlertEngine.snapshot()> | null}

The last three keys came with experiments (issue 13); a document without them (an earlier
build's) loads with no experiment state and an empty lifecycle, so the version stays 2.
Under ``worker.aggregation: two_stage`` a partition that owns model versions' stage 2 also has
``"owners": [<WindowOwner.snapshot()>, ...]`` (each with its own ``"format": 1``); absent, none.

Loading parses JSON into dicts, lists, strings and numbers, and each component's
``restore()`` rebuilds itself from them plus the current settings: no pickle, no
class named by the data. Arrays are base64 of their raw bytes with dtype and shape
(:mod:`driftline.detectors.packing`).

Version 1 (the previous release) was a pickle of the object graph. It is recognised
by its header and never unpickled: the partition is rebuilt from the event tables at
the offsets of the checkpoint row (:mod:`driftline.stream.replay`).

A version newer than :data:`VERSION` raises :class:`CheckpointTooNewError` naming both
versions (a malformed document, :class:`CheckpointError`). The worker does not take the
partition: the error ends the ingest loop, which logs it and exits with status 70 (a
supervisor restarting it will see the same message until a build that knows the version
runs). Starting the partition afresh instead would recompute and re-alert everything since
the start of its topics.

>>> blob = encode_checkpoint({"partition": 0, "offsets": {"p": 5}})
>>> blob[:60]
b'{"format":"driftline.checkpoint","version":2,"partition":0,"'
>>> decode_checkpoint(blob)["offsets"]
{'p': 5}
>>> is_legacy_checkpoint(b"\\x80\\x05\\x95..."), is_legacy_checkpoint(blob)  # told apart, not loaded
(True, False)
>>> decode_checkpoint(encode_checkpoint({"partition": 0}).replace(b'"version":2', b'"version":3'))
Traceback (most recent call last):
...
driftline.stream.errors.CheckpointTooNewError: checkpoint of partition 0 is format version 3, but this build reads versions 1 to 2: run a driftline release that knows version 3 (this worker will not take the partition rather than start it from scratch)
"""

from __future__ import annotations

from typing import Any

import msgspec

from .errors import CheckpointError, CheckpointTooNewError

__all__ = ["FORMAT", "LEGACY_VERSION", "VERSION", "decode_checkpoint", "encode_checkpoint", "is_legacy_checkpoint"]

FORMAT = "driftline.checkpoint"
VERSION = 2
LEGACY_VERSION = 1  # pickle of the object graph; rebuilt from the event tables, never unpickled

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(dict)  # plain JSON values only: dicts, lists, str, int, float, bool, None


def encode_checkpoint(body: dict[str, Any]) -> bytes:
    """The version-2 document of ``body`` (``partition``, ``offsets``, ``monitors``, ``join``, ``engines``)."""
    return _encoder.encode({"format": FORMAT, "version": VERSION, **body})


def is_legacy_checkpoint(blob: bytes) -> bool:
    """True for a version-1 checkpoint, told by its pickle header alone (it is never loaded)."""
    return bytes(blob[:1]) == b"\x80" and bytes(blob[1:2]) in (b"\x02", b"\x03", b"\x04", b"\x05")


def decode_checkpoint(blob: bytes) -> dict[str, Any]:
    """The document of a version-2 checkpoint; raises :class:`CheckpointTooNewError` for a newer one."""
    try:
        doc = _decoder.decode(blob)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise CheckpointError(f"checkpoint is neither a JSON document nor a version-1 pickle: {exc}") from exc
    partition = doc.get("partition")
    if doc.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint of partition {partition} has format {doc.get('format')!r}, "
                              f"expected {FORMAT!r}")
    version = doc.get("version")
    if type(version) is int and version > VERSION:
        raise CheckpointTooNewError(
            f"checkpoint of partition {partition} is format version {version}, but this build reads versions "
            f"{LEGACY_VERSION} to {VERSION}: run a driftline release that knows version {version} (this worker "
            f"will not take the partition rather than start it from scratch)")
    if version != VERSION:
        raise CheckpointError(f"checkpoint of partition {partition} has version {version!r}, expected {VERSION}")
    return doc
