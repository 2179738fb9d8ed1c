from driftline.stream.join import LabelJoin


def test_join_in_either_order():
    join = LabelJoin(max_delay_ms=1000, max_pending=100)
    assert join.add_prediction("a", "m", "v1", 1, 0.8, 100) == []
    (j,) = join.add_feedback("a", "m", 0, 300)
    assert (j.event_id, j.prediction, j.label, j.ts_ms) == ("a", 1, 0, 300)
    assert join.add_feedback("b", "m", 1, 400) == []
    (j,) = join.add_prediction("b", "m", "v2", 1, None, 350)
    assert (j.version, j.ts_ms) == ("v2", 400)
    assert join.pending == (0, 0)


def test_same_event_id_of_another_model_is_not_joined():
    join = LabelJoin(max_delay_ms=1000, max_pending=100)
    join.add_prediction("a", "m1", "v1", 1, None, 0)
    assert join.add_feedback("a", "m2", 1, 0) == []
    assert join.pending == (1, 1)


def test_state_is_bounded_by_cap_and_delay():
    join = LabelJoin(max_delay_ms=1000, max_pending=3)
    for i in range(10):
        join.add_prediction(f"e{i}", "m", "v", 1, None, i * 100)
    assert join.pending == (3, 0) and join.evicted == 7
    join.expire(watermark_ms=2_000)  # horizon 1000: e7..e9 are at 700..900
    assert join.pending == (0, 0) and join.expired_predictions == 3


def test_batch_insert_matches_one_by_one():
    from types import SimpleNamespace

    def run(batch: bool):
        join = LabelJoin(max_delay_ms=10_000, max_pending=5)
        join.add_feedback("a", "m", "1", 10)
        join.add_feedback("b", "other", "0", 10)
        events = [SimpleNamespace(event_id=f"{c}", prediction="1", score=0.5) for c in "abcdefg"]
        ts = list(range(7))
        if batch:
            joined = join.add_predictions(events, ts, "m", "v1")
        else:
            joined = [j for e, t in zip(events, ts, strict=True) for j in join.add_prediction(e.event_id, "m", "v1", "1", 0.5, t)]
        return joined, join.pending_rows(), join.evicted

    assert run(batch=True) == run(batch=False)
    joined, (predictions, feedback), evicted = run(batch=True)
    assert [j.event_id for j in joined] == ["a"]
    assert [row[1:] for row in feedback] == [("other", "0", 10)] and len(predictions) == 5 and evicted == 1
