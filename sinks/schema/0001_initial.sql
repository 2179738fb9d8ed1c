-- driftline schema v1. Portable: runs on ClickHouse 18.16 and on 24.x+.
-- Event tables are ReplacingMergeTree keyed on the event's identity, so a
-- redelivered batch leaves no duplicate visible through FINAL.

CREATE TABLE IF NOT EXISTS predictions (
    event_id String,
    model String,
    version String,
    ts DateTime,
    ts_ms Int64,
    features String,
    prediction String,
    prediction_num Float64,
    score Nullable(Float64),
    latency_ms Nullable(Float64),
    variant String,
    segment String,
    kafka_partition UInt32,
    kafka_offset UInt64,
    ingested_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(ts)
ORDER BY (model, event_id);

CREATE TABLE IF NOT EXISTS feedback (
    event_id String,
    model String,
    ts DateTime,
    ts_ms Int64,
    label String,
    label_num Float64,
    kafka_partition UInt32,
    kafka_offset UInt64,
    ingested_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(ts)
ORDER BY (model, event_id);

CREATE TABLE IF NOT EXISTS window_metrics (
    model String,
    version String,
    window_start DateTime,
    window_end DateTime,
    metric String,
    value Float64,
    n UInt64,
    computed_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(window_start)
ORDER BY (model, version, metric, window_start);

CREATE TABLE IF NOT EXISTS drift_results (
    model String,
    version String,
    window_start DateTime,
    window_end DateTime,
    feature String,
    test String,
    statistic Float64,
    p_value Nullable(Float64),
    threshold Float64,
    drifted UInt8,
    raw_drifted UInt8,
    corrected String,
    computed_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(window_start)
ORDER BY (model, version, feature, test, window_start);

CREATE TABLE IF NOT EXISTS alerts (
    alert_id String,
    dedup_key String,
    status String,
    kind String,
    severity String,
    action String,
    model String,
    version String,
    feature String,
    features String,
    window_start DateTime,
    window_end DateTime,
    summary String,
    payload String,
    ts DateTime
) ENGINE = ReplacingMergeTree(ts)
PARTITION BY toYYYYMM(window_start)
ORDER BY (model, version, alert_id);

CREATE TABLE IF NOT EXISTS alert_deliveries (
    alert_id String,
    dedup_key String,
    channel String,
    status String,
    attempts UInt32,
    last_status_code Int32,
    error String,
    ts DateTime
) ENGINE = ReplacingMergeTree(ts)
PARTITION BY toYYYYMM(ts)
ORDER BY (alert_id, channel);

CREATE TABLE IF NOT EXISTS dead_letters (
    topic String,
    kafka_partition UInt32,
    kafka_offset UInt64,
    reason String,
    detail String,
    payload String,
    payload_bytes UInt64,
    ts DateTime,
    received_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(ts)
ORDER BY (topic, kafka_partition, kafka_offset, reason, detail);

CREATE TABLE IF NOT EXISTS checkpoints (
    group_id String,
    kafka_partition UInt32,
    seq UInt64,
    offsets String,
    state String,
    created_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree(seq)
ORDER BY (group_id, kafka_partition);
