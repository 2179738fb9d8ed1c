-- driftline schema v3: nothing lost at the edges. Portable: runs on ClickHouse 18.16, on 24.x+
-- and on chdb (tests/sinks/test_migration_0003.py runs it on the 18.16 server and on chdb).
--
-- window_metrics, drift_results: keyed by the Kafka partition that computed them too. A model
-- whose events arrive on two partitions (a producer keying inconsistently) gets one result per
-- partition and window, where before one partition's row silently replaced the other's. A
-- sorting key can be extended in place by a column added in the same ALTER, on 18.16 as on
-- today's servers, as long as the column has no DEFAULT expression: older rows read 0. The
-- primary key (the index) stays as it was; the rollup views read named columns and need nothing.
--
-- dead_letters: `truncated` is 1 when the message on the dead-letter topic holds a payload cut
-- to fit the broker's limit (header driftline-truncated: <original bytes>); `store_table` names
-- the table that refused the row of a `store_rejected` dead letter.
--
-- checkpoints: `models`, a JSON list of the models a partition had events of lately, read to
-- find a model whose events arrive on more than one partition.
--
-- 18.16 has no ADD COLUMN IF NOT EXISTS: should one statement fail, the ones before it stay
-- applied and must be undone (DROP COLUMN) before the migration runs again.

ALTER TABLE window_metrics ADD COLUMN kafka_partition UInt32,
    MODIFY ORDER BY (model, version, metric, window_start, kafka_partition);

ALTER TABLE drift_results ADD COLUMN kafka_partition UInt32,
    MODIFY ORDER BY (model, version, feature, test, window_start, kafka_partition);

ALTER TABLE dead_letters ADD COLUMN truncated UInt8 DEFAULT 0, ADD COLUMN store_table String DEFAULT '';

ALTER TABLE checkpoints ADD COLUMN models String DEFAULT '[]';
