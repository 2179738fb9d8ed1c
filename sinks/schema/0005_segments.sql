-- driftline schema v5: segments and fairness. Portable: runs on ClickHouse 18.16, on 24.x+ and on chdb
-- (tests/sinks/test_segment_rows.py runs it on chdb, tests/integration/test_segments.py on 18.16).
--
-- segment_metrics: one row per window, segment key, group value and metric (volume, selection rate,
-- label coverage, the task's performance metrics, drift of chosen features per group). The key and
-- the value are columns, never part of a metric name; `__other__` holds the values folded past a
-- key's max_values. fairness_results: one row per window, sensitive key and measure, naming the worst
-- and the best group with their values and sizes; `groups` is the JSON list of every compared group
-- ([{"group", "value", "n", "low", "high"}]). Both are keyed on the row's identity, the Kafka
-- partition that computed it included, so a replayed window replaces its rows rather than
-- duplicating them (read through FINAL).

CREATE TABLE IF NOT EXISTS segment_metrics (
    model String,
    version String,
    window_start DateTime,
    window_end DateTime,
    segment_key String,
    segment_value String,
    metric String,
    value Float64,
    n UInt64,
    kafka_partition UInt32,
    computed_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(window_start)
ORDER BY (model, version, segment_key, metric, window_start, segment_value, kafka_partition);

CREATE TABLE IF NOT EXISTS fairness_results (
    model String,
    version String,
    window_start DateTime,
    window_end DateTime,
    sensitive_key String,
    measure String,
    value Float64,
    threshold Float64,
    flagged UInt8,
    worst_group String,
    best_group String,
    worst_value Float64,
    best_value Float64,
    worst_n UInt64,
    best_n UInt64,
    p_value Float64,
    groups String,
    kafka_partition UInt32,
    computed_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(window_start)
ORDER BY (model, version, sensitive_key, measure, window_start, kafka_partition);
