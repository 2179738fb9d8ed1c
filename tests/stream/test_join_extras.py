"""The lean label join carries experiment tags and segment groups, and stays bounded whatever producers send."""

from __future__ import annotations

from dataclasses import dataclass

from driftline.stream.join import LabelJoin


@dataclass
class Event:
    event_id: str
    prediction: object
    score: float | None


def test_tags_and_groups_come_back_with_the_label_in_either_order():
    join = LabelJoin(max_delay_ms=60_000, max_pending=100)
    events = [Event("a", 1, 0.9), Event("b", 0, 0.1), Event("c", 1, 0.8)]
    assert join.add_predictions(events, [1, 2, 3], "m", "v2", [("B", "r-a"), None, ("B", "r-c")],
                                [("north",), None, None]) == []
    joined = {j.event_id: j for j in join.add_feedbacks([_Feedback("a", "m", 1), _Feedback("b", "m", 0)], [5, 6])}
    assert (joined["a"].tag, joined["a"].segments) == (("B", "r-a"), ("north",))
    assert (joined["b"].tag, joined["b"].segments) == (None, None)
    # Label first, then the prediction: the prediction's own tag and groups.
    join.add_feedbacks([_Feedback("d", "m", 0)], [7])
    (j,) = join.add_predictions([Event("d", 0, 0.2)], [8], "m", "v2", [("A", "r-d")], [("south",)])
    assert (j.tag, j.segments) == (("A", "r-d"), ("south",))


def test_pending_rows_restore_tags_and_groups():
    join = LabelJoin(max_delay_ms=60_000, max_pending=100)
    join.add_predictions([Event("a", 1, 0.9), Event("b", 0, None)], [1, 2], "m", "v1",
                         [("B", "r-a"), None], [None, ("x",)])
    predictions, feedback = join.pending_rows()
    again = LabelJoin(max_delay_ms=60_000, max_pending=100)
    again.load_pending(predictions, feedback)
    got = {j.event_id: (j.tag, j.segments) for j in again.add_feedbacks(
        [_Feedback("a", "m", 1), _Feedback("b", "m", 0)], [5, 6])}
    assert got == {"a": (("B", "r-a"), None), "b": (None, ("x",))}


def test_side_tables_stay_bounded_under_unique_labels_and_tags():
    join = LabelJoin(max_delay_ms=10**12, max_pending=1_000)
    for batch in range(200):  # 200,000 predictions with unique tags and 200,000 unique string labels
        ids = [f"e{batch}-{i}" for i in range(1_000)]
        join.add_predictions([Event(i, f"class-{i}", 0.5) for i in ids], [batch] * 1_000, "m", "v1",
                             [("A", i) for i in ids], None)
        join.add_feedbacks([_Feedback("x" + i, "m", "label-" + i) for i in ids], [batch] * 1_000)
    assert join.pending == (1_000, 1_000)
    assert len(join._extras) <= 4 * 2_000 + 4096
    assert len(join._values.values) <= 4 * 2_000 + 4096
    # The survivors still decode to their own values and tags.
    (j,) = join.add_feedbacks([_Feedback("e199-999", "m", 1)], [10**6])
    assert (j.prediction, j.tag) == ("class-e199-999", ("A", "e199-999"))
    (j,) = join.add_predictions([Event("xe199-998", 0, 0.1)], [10**6], "m", "v1")
    assert j.label == "label-e199-998"


@dataclass
class _Feedback:
    event_id: str
    model: str
    label: object
