"""The join topic's binary message (format 2): every value type and table survives the round trip, and a
message of another format or malformed is refused (the worker dead-letters it and goes on)."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from driftline.stream.join_topic import join_keys
from driftline.stream.join_wire import (
    JOIN_FORMAT,
    LABEL,
    PREDICTION,
    JoinBatch,
    decode,
    label_rows,
    optional_scores,
    prediction_rows,
    values,
)
from driftline.stream.processor import BatchOutput, Processor

from tests.stream.test_two_stage_merge import START_MS, two_stage_settings
from tests.support.segment_traffic import reference_profiles, segment_traffic


def predictions_of(batch: JoinBatch, items, scores, groups, model="m", version="v1", offset=0):
    n = len(items)
    k1, k2 = join_keys([f"e{offset + i}" for i in range(n)], model)
    rows = prediction_rows(k1, k2, list(range(1_000, 1_000 + n)), list(range(offset, offset + n)), items, scores)
    batch.add_predictions(rows, np.arange(n), model, version, groups)
    return k1, k2


def test_every_value_type_score_and_table_survives_the_round_trip():
    batch = JoinBatch()
    mixed = [1.5, 2, True, "yes", 2 ** 60, -(2 ** 53), False, 0.0]
    k1, _ = predictions_of(batch, mixed, [0.25, None, 1.0, None, 0.5, 0.0, None, 0.75],
                           [("east", "a"), None, ("west", "b"), ("east", "a"), None, None, None, ("west", "b")])
    predictions_of(batch, ["no", "yes"], [None, None], None, version="v2", offset=8)
    labels = ["1", 0.0, 7, "1"]
    lk1, lk2 = join_keys(["x", "y", "z", "w"], ["m", "n", "m", "n"])
    take = np.array([3, 0, 2])  # a subset, in any order: the rows travel in that order
    batch.add_labels(label_rows(lk1, lk2, [5, 6, 7, 8], [10, 11, 12, 13], labels), take, ["m", "n", "m", "n"])
    batch.marks = {"m": 20_000, "n": -(2 ** 62)}
    message = decode(batch.encode(5))
    p, lab = message.predictions, message.labels
    assert message.source == 5 and message.marks == {"m": 20_000, "n": -(2 ** 62)}
    assert values(p, message.values) == [*mixed, "no", "yes"]
    assert [type(v) for v in values(p, message.values)] == [type(v) for v in [*mixed, "no", "yes"]]
    assert optional_scores(p["score"]) == [0.25, None, 1.0, None, 0.5, 0.0, None, 0.75, None, None]
    assert [message.mv[c] for c in p["mv"].tolist()] == [("m", "v1")] * 8 + [("m", "v2")] * 2
    assert [None if c < 0 else message.groups[c] for c in p["groups"].tolist()] == [
        ("east", "a"), None, ("west", "b"), ("east", "a"), None, None, None, ("west", "b"), None, None]
    assert p["k1"][:8].tolist() == k1.tolist() and p["offset"].tolist() == list(range(10))
    assert values(lab, message.values) == ["1", "1", 7] and [message.models[c] for c in lab["model"]] == ["n", "m", "m"]
    assert lab["k2"].tolist() == lk2[take].tolist() and lab["offset"].tolist() == [13, 10, 12]
    assert lab["ts"].tolist() == [8, 5, 7]


def test_fixed_width_rows_are_smaller_than_the_json_lists_they_replace():
    assert PREDICTION.itemsize == 61 and LABEL.itemsize == 49
    batch = JoinBatch()
    predictions_of(batch, [float(i % 2) for i in range(1_000)], [i / 1_000 for i in range(1_000)], None)
    as_json = len(json.dumps([[1 << 62, -(1 << 62), "m", "v1", float(i % 2), i / 1_000, 1_700_000_000_000 + i, i, None]
                              for i in range(1_000)]))
    assert len(batch.encode(0)) < 0.7 * as_json


@pytest.mark.parametrize("value, why", [
    (b"", "format None"),
    (b'{"format": 1, "source": 0, "p": [], "l": [], "marks": {}}', "format 123 is not 2"),  # format 1: JSON
    (bytes([3]) + b"\x00" * 8, "format 3 is not 2"),
    (bytes([JOIN_FORMAT, 1]), "truncated"),
    (struct.pack("<BI", JOIN_FORMAT, 3) + b"{}x", "header"),
    (struct.pack("<BI", JOIN_FORMAT, 2) + b"[]", "header"),
    *[(struct.pack("<BI", JOIN_FORMAT, len(h)) + h, "not a scalar") for h in (
        b'{"source":0,"p":0,"l":0,"mv":[],"models":[],"values":[{"a":1}],"groups":[],"marks":{}}',
        b'{"source":0,"p":0,"l":0,"mv":[],"models":[],"values":[],"groups":[[["x"]]],"marks":{}}')],
])
def test_another_format_or_a_malformed_header_is_refused(value, why):
    with pytest.raises(ValueError, match=why):
        decode(value)


def test_rows_that_do_not_fit_their_tables_are_refused():
    batch = JoinBatch()
    predictions_of(batch, ["a", "b"], [None, None], [("g",), None])
    good = batch.encode(0)
    assert len(decode(good).predictions) == 2
    with pytest.raises(ValueError, match="do not hold"):
        decode(good[:-1])
    head = struct.calcsize("<BI") + struct.unpack_from("<BI", good)[1]
    for column, value in (("mv", 1), ("groups", 5), ("obj", 9), ("kind", 4)):
        rows = np.frombuffer(good, PREDICTION, 2, head).copy()
        rows[column][1] = value
        with pytest.raises(ValueError, match="out of its table"):
            decode(good[:head] + rows.tobytes())


def test_the_worker_dead_letters_a_message_it_cannot_read_and_joins_the_next():
    traffic = segment_traffic(200, START_MS, step_ms=10)
    processor = Processor(two_stage_settings(), references=reference_profiles(traffic))
    processor.two_stage.partitions = 1
    state, out = processor.new_partition(0), BatchOutput()
    processor.process(state, [(0, 0, traffic.predictions[0][1], 0)], [(0, 0, traffic.feedback[0][1], 0)],
                      START_MS, out)
    (_, good), = processor.join_exchange.messages(out)
    bad = b"\x07" + good[1:]
    dead = BatchOutput()
    processor.join_exchange.receive(state, [(0, 0, bad, 1_700_000_000_000), (0, 1, good, None)], "join", START_MS,
                                    dead)
    assert [(d.topic, d.offset, d.reason, d.payload, d.ts_ms) for d in dead.dead] == [
        ("join", 0, "schema", bad, 1_700_000_000_000)]
    assert "format 7" in dead.dead[0].detail and processor.join_exchange.refused == 1
    assert state.offsets["join"] == 2
    monitor = state.monitors[("loans", "v1")]
    assert sum(w.labels for w in monitor.label_windows.values()) == 1  # the good message still joined
