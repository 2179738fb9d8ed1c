-- driftline schema v2: rollups. Portable: runs on ClickHouse 18.16 and on 24.x+.
--
-- Dashboards read these for long ranges instead of scanning raw events. Each
-- rollup is a SummingMergeTree fed by a MATERIALIZED VIEW ... TO on insert.
-- Plain numeric columns are summed on merge; AggregateFunction columns are
-- merged like AggregatingMergeTree. Parts merge eventually, so ALWAYS read a
-- rollup with GROUP BY and sum() / ...Merge(), never row by row.
--
-- A materialized view sees inserted blocks, not the deduplicated table: a
-- batch redelivered after a worker crash is counted twice here while the raw
-- table shows it once through FINAL. Rollups are for trends, raw tables for
-- exact counts. Rows inserted before this migration are not rolled up (see
-- docs/deployment.md "Backfilling rollups").
--
-- Latency quantiles use quantilesTiming: deterministic and exact below
-- 1024 ms, 16 ms buckets up to 30 s; larger values count as 30000 ms.

CREATE TABLE IF NOT EXISTS predictions_hourly (
    model String,
    version String,
    hour DateTime,
    predictions UInt64,
    latency_sum Float64,
    latency_count UInt64,
    latency_quantiles AggregateFunction(quantilesTimingIf(0.5, 0.9, 0.95, 0.99), Float64, UInt8),
    score_sum Float64,
    score_count UInt64,
    prediction_sum Float64
) ENGINE = SummingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (model, version, hour);

CREATE MATERIALIZED VIEW IF NOT EXISTS predictions_hourly_mv TO predictions_hourly AS
SELECT
    model,
    version,
    toStartOfHour(ts) AS hour,
    count() AS predictions,
    sum(ifNull(latency_ms, 0)) AS latency_sum,
    count(latency_ms) AS latency_count,
    quantilesTimingIfState(0.5, 0.9, 0.95, 0.99)(ifNull(latency_ms, 0), isNotNull(latency_ms)) AS latency_quantiles,
    sum(ifNull(score, 0)) AS score_sum,
    count(score) AS score_count,
    sum(prediction_num) AS prediction_sum
FROM predictions
GROUP BY model, version, hour;

CREATE TABLE IF NOT EXISTS feedback_hourly (
    model String,
    hour DateTime,
    labels UInt64,
    label_sum Float64
) ENGINE = SummingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (model, hour);

CREATE MATERIALIZED VIEW IF NOT EXISTS feedback_hourly_mv TO feedback_hourly AS
SELECT
    model,
    toStartOfHour(ts) AS hour,
    count() AS labels,
    sum(label_num) AS label_sum
FROM feedback
GROUP BY model, hour;

CREATE TABLE IF NOT EXISTS window_metrics_hourly (
    model String,
    version String,
    metric String,
    hour DateTime,
    windows UInt64,
    samples UInt64,
    value_sum Float64,
    weighted_sum Float64,
    value_min AggregateFunction(min, Float64),
    value_max AggregateFunction(max, Float64)
) ENGINE = SummingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (model, version, metric, hour);

CREATE MATERIALIZED VIEW IF NOT EXISTS window_metrics_hourly_mv TO window_metrics_hourly AS
SELECT
    model,
    version,
    metric,
    toStartOfHour(window_start) AS hour,
    count() AS windows,
    sum(n) AS samples,
    sum(value) AS value_sum,
    sum(value * n) AS weighted_sum,
    minState(value) AS value_min,
    maxState(value) AS value_max
FROM window_metrics
WHERE isFinite(value)
GROUP BY model, version, metric, hour;

CREATE TABLE IF NOT EXISTS drift_daily (
    model String,
    version String,
    feature String,
    test String,
    day Date,
    windows UInt64,
    drifted_windows UInt64,
    statistic_sum Float64,
    statistic_max AggregateFunction(max, Float64)
) ENGINE = SummingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (model, version, feature, test, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS drift_daily_mv TO drift_daily AS
SELECT
    model,
    version,
    feature,
    test,
    toDate(window_start) AS day,
    count() AS windows,
    sum(toUInt64(drifted)) AS drifted_windows,
    sum(statistic) AS statistic_sum,
    maxState(statistic) AS statistic_max
FROM drift_results
WHERE isFinite(statistic)
GROUP BY model, version, feature, test, day;

CREATE TABLE IF NOT EXISTS dead_letters_daily (
    topic String,
    reason String,
    day Date,
    dead_letters UInt64,
    payload_bytes_sum UInt64
) ENGINE = SummingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (topic, reason, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS dead_letters_daily_mv TO dead_letters_daily AS
SELECT
    topic,
    reason,
    toDate(ts) AS day,
    count() AS dead_letters,
    sum(payload_bytes) AS payload_bytes_sum
FROM dead_letters
GROUP BY topic, reason, day;
